//! Requests from endpoints: each is checked (ids, targets, limits, whether the endpoint may
//! do it now) and refused with a typed error, or carried out through the lifecycle and the
//! phone legs. Nothing here sends media commands of its own but SDP answers, holds and
//! subscriptions.

use super::model::{phone_number, valid_id, Call, CallKind, Participant, Phase, MAX_SUBSCRIPTIONS};
use super::{error, Hub, Outcome};
use crate::contract::{EndpointId, MediaCommand, ReplyTo};
use crate::echo::ECHO_BOT;
use rtcall_protocol::call::{CallId, EndReason, ParticipantId, StreamId};
use rtcall_protocol::features::Capability;
use rtcall_protocol::is_e164;
use rtcall_protocol::signal::{ErrorKind, Reply, Request, RequestId, VideoSource, WireError};
use rtcall_protocol::CommunicationIdentifier;
use std::collections::HashSet;
use std::time::Instant;

impl Hub {
    /// Carries out a request; returns its reply, or `None` when the reply comes later (an SDP
    /// answer: once the SFU says how it went).
    pub(super) fn dispatch(
        &mut self,
        now: Instant,
        endpoint: EndpointId,
        id: RequestId,
        request: Request,
    ) -> Option<Result<Reply, WireError>> {
        let outcome = match request {
            Request::Hello { .. } => Err(error(
                ErrorKind::NotAuthenticated,
                "the connection is already authenticated",
            )),
            Request::Ping => return Some(Ok(Reply::Pong)),
            Request::StartCall {
                call_id,
                targets,
                muted,
                alternate_caller_id,
            } => self.start_call(now, endpoint, call_id, targets, muted, alternate_caller_id),
            Request::JoinGroup {
                group_id,
                muted,
                lobby,
            } => self.join_group(endpoint, group_id, muted, lobby),
            Request::Accept { call_id, muted } => self.accept(endpoint, &call_id, muted),
            Request::Reject { call_id } => self.reject(endpoint, &call_id),
            Request::HangUp {
                call_id,
                for_everyone,
            } => self.hang_up(endpoint, &call_id, for_everyone),
            Request::AddParticipant {
                call_id,
                target,
                alternate_caller_id,
            } => self.add_participant(now, endpoint, &call_id, target, alternate_caller_id),
            Request::RemoveParticipant { call_id, target } => {
                self.remove_participant(endpoint, &call_id, &target)
            }
            Request::SendDtmf { call_id, tone } => self.send_dtmf(endpoint, &call_id, &tone),
            Request::SetMuted { call_id, muted } => {
                self.update_participant(endpoint, &call_id, |p| p.muted = muted)
            }
            Request::SetHold { call_id, hold } => self.set_hold(endpoint, &call_id, hold),
            Request::SetVideo {
                call_id,
                source,
                on,
            } => self.set_video(endpoint, &call_id, source, on),
            Request::MuteOthers { call_id, targets } => {
                self.mute_others(endpoint, &call_id, targets)
            }
            Request::AdmitLobby { call_id, targets } => {
                return Some(self.admit(endpoint, &call_id, targets));
            }
            Request::RejectLobby { call_id, target } => {
                self.reject_lobby(endpoint, &call_id, &target)
            }
            Request::Feature { call_id, request } => self.feature(now, endpoint, &call_id, request),
            Request::Subscribe {
                call_id,
                stream_id,
                max_height,
            } => self.subscribe(endpoint, &call_id, stream_id, Some(max_height)),
            Request::Unsubscribe { call_id, stream_id } => {
                self.subscribe(endpoint, &call_id, stream_id, None)
            }
            Request::RestartIce { call_id } => self
                .leg_of(endpoint, &call_id)
                .map(|leg| self.media(MediaCommand::RestartIce { leg })),
            Request::SdpAnswer {
                call_id,
                version,
                sdp,
            } => match self.leg_of(endpoint, &call_id) {
                Ok(leg) => {
                    self.media(MediaCommand::Answer {
                        leg,
                        version,
                        sdp,
                        reply: Some(ReplyTo {
                            endpoint,
                            request: id,
                        }),
                    });
                    return None;
                }
                Err(e) => Err(e),
            },
        };
        Some(outcome.map(|()| Reply::Done))
    }

    fn start_call(
        &mut self,
        now: Instant,
        endpoint: EndpointId,
        call_id: CallId,
        targets: Vec<String>,
        muted: bool,
        caller_id: Option<String>,
    ) -> Outcome {
        if !valid_id(&call_id.0) {
            return Err(error(
                ErrorKind::InvalidArgument,
                "callId must be 1-64 characters of letters, digits and ._:-",
            ));
        }
        if self.calls.contains_key(&call_id) {
            return Err(error(ErrorKind::CallExists, "a call with this id exists"));
        }
        if targets.is_empty() {
            return Err(error(ErrorKind::InvalidArgument, "no one to call"));
        }
        if targets.len() + 1 > self.config.max_participants {
            return Err(self.call_full());
        }
        let targets = targets
            .iter()
            .map(|t| parse_target(t))
            .collect::<Result<Vec<_>, _>>()?;
        let caller_id = match targets.iter().any(|t| phone_number(t).is_some()) {
            true => Some(self.check_caller_id(caller_id.as_deref())?.to_owned()),
            false => None,
        };
        let echo = targets.iter().any(|t| t == ECHO_BOT);
        if echo && targets.len() > 1 {
            return Err(error(
                ErrorKind::InvalidArgument,
                "the echo test service takes 1:1 calls only",
            ));
        }
        self.calls
            .insert(call_id.clone(), Call::new(CallKind::Adhoc));
        let caller = self.join(endpoint, &call_id, muted);
        self.sync(&call_id);
        if echo {
            self.start_echo(&call_id, caller);
            return Ok(());
        }
        let mut unreachable = Vec::new();
        for target in targets {
            match (phone_number(&target), &caller_id) {
                (Some(_), Some(caller_id)) => self.dial(&call_id, target, caller_id.clone()),
                _ => unreachable.extend(self.invite(now, &call_id, target, Some(endpoint))),
            }
        }
        for (pid, reason) in unreachable {
            self.leave(&call_id, pid, reason, reason);
        }
        self.sync(&call_id);
        Ok(())
    }

    fn join_group(
        &mut self,
        endpoint: EndpointId,
        group_id: String,
        muted: bool,
        lobby: bool,
    ) -> Outcome {
        if !valid_id(&group_id) {
            return Err(error(
                ErrorKind::InvalidArgument,
                "groupId must be 1-64 characters of letters, digits and ._:-",
            ));
        }
        let call_id = CallId(group_id);
        match self.calls.get(&call_id) {
            Some(call) if call.kind != CallKind::Group => {
                return Err(error(ErrorKind::CallExists, "a call with this id exists"));
            }
            Some(call) if call.participants.len() >= self.config.max_participants => {
                return Err(self.call_full());
            }
            Some(_) if self.endpoints[&endpoint].legs.contains_key(&call_id) => {
                return Err(error(ErrorKind::WrongState, "already in this call"));
            }
            Some(call)
                if call.lobby
                    && call.organizer.as_ref() != Some(&self.endpoints[&endpoint].identity) =>
            {
                self.wait_in_lobby(endpoint, &call_id, muted);
                return Ok(());
            }
            Some(_) => {}
            None => {
                let mut call = Call::new(CallKind::Group);
                call.organizer = Some(self.endpoints[&endpoint].identity.clone());
                call.lobby = lobby;
                self.calls.insert(call_id.clone(), call);
            }
        }
        self.join(endpoint, &call_id, muted);
        self.sync(&call_id);
        Ok(())
    }

    fn accept(&mut self, endpoint: EndpointId, call_id: &CallId, muted: bool) -> Outcome {
        let pid = self.ringing_participant(endpoint, call_id)?;
        self.answer(endpoint, call_id, pid, muted);
        Ok(())
    }

    fn reject(&mut self, endpoint: EndpointId, call_id: &CallId) -> Outcome {
        let pid = self.ringing_participant(endpoint, call_id)?;
        self.leave(call_id, pid, EndReason::DECLINED, EndReason::DECLINED);
        Ok(())
    }

    fn hang_up(&mut self, endpoint: EndpointId, call_id: &CallId, for_everyone: bool) -> Outcome {
        let leg = self.leg_of(endpoint, call_id)?;
        if for_everyone {
            self.require(endpoint, call_id, Capability::HangUpForEveryOne)?;
            let everyone: Vec<ParticipantId> =
                self.calls[call_id].participants.keys().copied().collect();
            for pid in everyone {
                let reason = if pid == leg.participant {
                    EndReason::HUNG_UP
                } else {
                    EndReason::ENDED_FOR_EVERYONE
                };
                self.leave(call_id, pid, reason, EndReason::ENDED_FOR_EVERYONE);
            }
        } else {
            self.leave(
                call_id,
                leg.participant,
                EndReason::HUNG_UP,
                EndReason::HUNG_UP,
            );
        }
        Ok(())
    }

    fn add_participant(
        &mut self,
        now: Instant,
        endpoint: EndpointId,
        call_id: &CallId,
        target: String,
        caller_id: Option<String>,
    ) -> Outcome {
        self.leg_of(endpoint, call_id)?;
        let target = parse_target(&target)?;
        let needed = match phone_number(&target) {
            Some(_) => Capability::AddPhoneNumber,
            None => Capability::AddCommunicationUser,
        };
        self.require(endpoint, call_id, needed)?;
        let call = &self.calls[call_id];
        if target == ECHO_BOT || call.has_bot() {
            return Err(error(
                ErrorKind::InvalidArgument,
                "the echo test service takes 1:1 calls only",
            ));
        }
        if call.participants.len() >= self.config.max_participants {
            return Err(self.call_full());
        }
        if phone_number(&target).is_some() {
            let caller_id = self.check_caller_id(caller_id.as_deref())?.to_owned();
            self.dial(call_id, target, caller_id);
        } else if let Some((pid, reason)) = self.invite(now, call_id, target, None) {
            self.leave(call_id, pid, reason, reason);
        }
        self.sync(call_id);
        Ok(())
    }

    fn remove_participant(
        &mut self,
        endpoint: EndpointId,
        call_id: &CallId,
        target: &str,
    ) -> Outcome {
        let leg = self.leg_of(endpoint, call_id)?;
        self.require(endpoint, call_id, Capability::RemoveParticipant)?;
        let target = parse_target(target)?;
        let victims: Vec<ParticipantId> = self.calls[call_id]
            .participants
            .values()
            .filter(|p| p.identity == target && p.id != leg.participant)
            .map(|p| p.id)
            .collect();
        if victims.is_empty() {
            return Err(error(
                ErrorKind::ParticipantNotFound,
                "no such participant in the call",
            ));
        }
        for pid in victims {
            self.leave(
                call_id,
                pid,
                EndReason::REMOVED_BY_OTHER,
                EndReason::REMOVED,
            );
        }
        Ok(())
    }

    /// Starts or stops sending a video source; sharing the screen needs the capability.
    fn set_video(
        &mut self,
        endpoint: EndpointId,
        call_id: &CallId,
        source: VideoSource,
        on: bool,
    ) -> Outcome {
        if source == VideoSource::Screen && on {
            self.require(endpoint, call_id, Capability::ShareScreen)?;
        }
        self.update_participant(endpoint, call_id, |p| match source {
            VideoSource::Camera => p.camera.available = on,
            VideoSource::Screen => p.screen.available = on,
        })
    }

    fn set_hold(&mut self, endpoint: EndpointId, call_id: &CallId, hold: bool) -> Outcome {
        let leg = self.leg_of(endpoint, call_id)?;
        self.update_participant(endpoint, call_id, |p| p.hold = hold)?;
        self.media(MediaCommand::Hold { leg, hold });
        Ok(())
    }

    /// Subscribes to a remote stream at a rendered height, or (`None`) unsubscribes.
    fn subscribe(
        &mut self,
        endpoint: EndpointId,
        call_id: &CallId,
        stream_id: StreamId,
        max_height: Option<u32>,
    ) -> Outcome {
        let leg = self.leg_of(endpoint, call_id)?;
        let Some(max_height) = max_height else {
            if let Some(p) = self.participant_mut(&leg) {
                p.subscriptions.remove(&stream_id);
            }
            self.media(MediaCommand::Unsubscribe { leg, stream_id });
            return Ok(());
        };
        let participants = &self.calls[call_id].participants;
        let publisher = participants
            .values()
            .filter(|p| p.id != leg.participant)
            .find_map(|p| {
                [VideoSource::Camera, VideoSource::Screen]
                    .into_iter()
                    .find(|s| p.stream(*s).id == stream_id)
                    .map(|video| (p.id, video))
            });
        let Some((source, video)) = publisher else {
            return Err(error(
                ErrorKind::InvalidArgument,
                "no such remote stream in the call",
            ));
        };
        // Streams of participants who left no longer count.
        let live: HashSet<StreamId> = participants
            .values()
            .flat_map(|p| [p.camera.id, p.screen.id])
            .collect();
        let p = self
            .participant_mut(&leg)
            .ok_or_else(|| error(ErrorKind::Internal, "the participant is gone"))?;
        p.subscriptions.retain(|s| live.contains(s));
        if !p.subscriptions.contains(&stream_id) && p.subscriptions.len() >= MAX_SUBSCRIPTIONS {
            return Err(error(
                ErrorKind::LimitReached,
                format!("at most {MAX_SUBSCRIPTIONS} remote videos at once"),
            ));
        }
        p.subscriptions.insert(stream_id);
        self.media(MediaCommand::Subscribe {
            leg,
            source,
            video,
            stream_id,
            max_height,
        });
        Ok(())
    }

    /// Changes a fact of the endpoint's own participant and tells the others.
    fn update_participant(
        &mut self,
        endpoint: EndpointId,
        call_id: &CallId,
        change: impl FnOnce(&mut Participant),
    ) -> Outcome {
        let leg = self.leg_of(endpoint, call_id)?;
        let p = self
            .participant_mut(&leg)
            // leg_of only names participants that exist.
            .ok_or_else(|| error(ErrorKind::Internal, "the participant is gone"))?;
        change(p);
        p.dirty = true;
        self.sync(call_id);
        Ok(())
    }

    /// The invitation of `endpoint`'s identity to `call_id`, if it rings there.
    fn ringing_participant(
        &self,
        endpoint: EndpointId,
        call_id: &CallId,
    ) -> Result<ParticipantId, WireError> {
        let ep = &self.endpoints[&endpoint];
        if !ep.ringing.contains(call_id) {
            return Err(error(
                ErrorKind::CallNotFound,
                "no such call is ringing here",
            ));
        }
        self.calls
            .get(call_id)
            .and_then(|call| {
                call.participants.values().find(|p| {
                    matches!(&p.phase, Phase::Ringing { endpoints, .. } if endpoints.contains(&endpoint))
                })
            })
            .map(|p| p.id)
            .ok_or_else(|| error(ErrorKind::WrongState, "the call no longer rings here"))
    }

    fn call_full(&self) -> WireError {
        error(
            ErrorKind::CallFull,
            format!(
                "the call has the maximum of {} participants",
                self.config.max_participants
            ),
        )
    }
}

/// A target raw id, validated: users (`8:…`) and E.164 phone numbers (`4:+…`).
pub(super) fn parse_target(raw: &str) -> Result<String, WireError> {
    if raw.is_empty() || raw.len() > 256 {
        return Err(error(ErrorKind::InvalidArgument, "invalid participant id"));
    }
    match CommunicationIdentifier::from_raw_id(raw) {
        CommunicationIdentifier::CommunicationUser { id } => Ok(id),
        CommunicationIdentifier::Unknown { id } if id.starts_with("8:") => Ok(id),
        CommunicationIdentifier::PhoneNumber { phone_number, .. } => {
            if !is_e164(&phone_number) {
                return Err(error(
                    ErrorKind::InvalidArgument,
                    format!("{phone_number} is not an E.164 phone number (+ and 8 to 15 digits)"),
                ));
            }
            Ok(format!("4:{phone_number}"))
        }
        other => Err(error(
            ErrorKind::InvalidArgument,
            format!("cannot call a {} identifier here", other.kind()),
        )),
    }
}
