//! How participants come into a call and leave it: joining, being invited and rung, answering
//! on one endpoint while the others stop ringing, leaving with a reason for themselves and one
//! for the others, and the call ending once it is over. The media connection of whoever joins
//! is opened and of whoever leaves closed here, and nowhere else.

use super::model::{Call, CallKind, Phase};
use super::Hub;
use crate::contract::{EndpointId, LegKey, MediaCommand, PhoneCommand, PhoneProgress};
use crate::echo::{ECHO_BOT, ECHO_BOT_NAME};
use rtcall_protocol::call::{CallId, CallState, EndReason, ParticipantId};
use rtcall_protocol::signal::{Event, RemovedParticipant};
use std::time::Instant;

impl Hub {
    /// Adds `endpoint` to the call as a joined participant; returns its participant id.
    pub(super) fn join(
        &mut self,
        endpoint: EndpointId,
        call_id: &CallId,
        muted: bool,
    ) -> ParticipantId {
        let ep = &self.endpoints[&endpoint];
        let (identity, display_name) = (ep.identity.clone(), ep.display_name.clone());
        let Some(call) = self.calls.get_mut(call_id) else {
            unreachable!("joins are into calls that exist");
        };
        let role = call.role_for(&identity);
        let pid = call.add(identity, display_name, Phase::Joined { endpoint });
        if let Some(p) = call.participants.get_mut(&pid) {
            p.muted = muted;
            p.role = role;
        }
        self.enter(endpoint, call_id, pid);
        pid
    }

    /// `endpoint` answers the invitation `pid` rings it with: the identity's other endpoints
    /// stop ringing, a phone that called is answered, and the media connection opens.
    pub(super) fn answer(
        &mut self,
        endpoint: EndpointId,
        call_id: &CallId,
        pid: ParticipantId,
        muted: bool,
    ) {
        let display_name = self.endpoints[&endpoint].display_name.clone();
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        let Some(participant) = call.participants.get_mut(&pid) else {
            return;
        };
        let Phase::Ringing {
            endpoints,
            deadline,
        } = std::mem::replace(&mut participant.phase, Phase::Joined { endpoint })
        else {
            unreachable!("only ringing participants answer");
        };
        participant.display_name = display_name;
        participant.muted = muted;
        participant.dirty = true;
        call.answered = true;
        let others = endpoints.into_iter().filter(|e| *e != endpoint).collect();
        self.stop_ringing(
            call_id,
            (deadline, pid),
            others,
            EndReason::ANSWERED_ELSEWHERE,
        );
        if let Some(ep) = self.endpoints.get_mut(&endpoint) {
            ep.ringing.remove(call_id);
        }
        self.enter(endpoint, call_id, pid);
        // A phone that called is answered now (the gateway ignores phones it called itself).
        self.tell_phones(call_id, |_| true, |leg| PhoneCommand::Answer { leg });
        self.sync(call_id);
    }

    /// A joined participant's endpoint takes its place: it learns the roster and whose hands
    /// are up, and the SFU opens its media connection.
    pub(super) fn enter(&mut self, endpoint: EndpointId, call_id: &CallId, pid: ParticipantId) {
        if let Some(ep) = self.endpoints.get_mut(&endpoint) {
            ep.legs.insert(call_id.clone(), pid);
        }
        self.snapshot(endpoint, call_id, pid);
        self.tell_feature_lists(endpoint, call_id);
        let leg = LegKey {
            call: call_id.clone(),
            participant: pid,
        };
        let data = self.participant(&leg).is_some_and(|p| p.data);
        self.media(MediaCommand::Open { leg: leg.clone() });
        if data {
            self.media(MediaCommand::OpenData { leg });
        }
    }

    /// The echo bot answers the call at once.
    pub(super) fn start_echo(&mut self, call_id: &CallId, caller: ParticipantId) {
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        call.answered = true;
        let bot = call.add(ECHO_BOT.into(), ECHO_BOT_NAME.into(), Phase::Bot);
        if let Some(p) = call.participants.get_mut(&bot) {
            p.media_connected = true;
        }
        self.media(MediaCommand::OpenEcho {
            leg: LegKey {
                call: call_id.clone(),
                participant: bot,
            },
            caller,
        });
        self.sync(call_id);
    }

    /// Invites `identity` into the call: it appears as Connecting, then each of its endpoints
    /// (but `except`, the inviting one) rings. Returns why it cannot be reached, if so; the
    /// caller removes it once every invitation of the request is out, so that one unreachable
    /// target does not end a call others are still being invited to.
    pub(super) fn invite(
        &mut self,
        now: Instant,
        call_id: &CallId,
        identity: String,
        except: Option<EndpointId>,
    ) -> Option<(ParticipantId, EndReason)> {
        let endpoints: Vec<EndpointId> = self
            .by_identity
            .get(&identity)
            .map(|list| {
                list.iter()
                    .copied()
                    .filter(|e| Some(*e) != except)
                    .collect()
            })
            .unwrap_or_default();
        let unreachable = if !(self.users)(&identity) {
            Some(EndReason::UNKNOWN_USER)
        } else if endpoints.is_empty() {
            Some(EndReason::NO_ENDPOINT)
        } else {
            None
        };
        let deadline = now + self.config.ring_timeout;
        let call = self.calls.get_mut(call_id)?;
        let pid = call.add(
            identity,
            String::new(),
            Phase::Ringing {
                endpoints: Vec::new(),
                deadline,
            },
        );
        self.sync(call_id);
        if let Some(reason) = unreachable {
            return Some((pid, reason));
        }
        let (caller, caller_display_name) = self.caller_of(&self.calls[call_id]);
        let participant = self.calls.get_mut(call_id)?.participants.get_mut(&pid)?;
        participant.phase = Phase::Ringing {
            endpoints: endpoints.clone(),
            deadline,
        };
        self.deadlines.insert((deadline, call_id.clone(), pid));
        for e in &endpoints {
            if let Some(ep) = self.endpoints.get_mut(e) {
                ep.ringing.insert(call_id.clone());
            }
        }
        self.send(
            endpoints,
            Event::IncomingCall {
                call_id: call_id.clone(),
                caller,
                caller_display_name,
            },
        );
        None
    }

    /// Who an invitation says calls: the first participant with an endpoint, or for a call a
    /// phone made, the phone (its number as its name).
    fn caller_of(&self, call: &Call) -> (String, String) {
        let participants = &call.participants;
        participants
            .values()
            .find_map(|p| {
                p.endpoint()
                    .and_then(|e| self.endpoints.get(&e))
                    .map(|ep| (ep.identity.clone(), ep.display_name.clone()))
            })
            .or_else(|| {
                participants
                    .values()
                    .find(|p| matches!(p.phase, Phase::Phone { .. }))
                    .map(|p| (p.identity.clone(), p.display_name.clone()))
            })
            .unwrap_or_default()
    }

    /// Stops an invitation ringing on `endpoints` (its deadline goes), telling them why.
    fn stop_ringing(
        &mut self,
        call_id: &CallId,
        (deadline, pid): (Instant, ParticipantId),
        endpoints: Vec<EndpointId>,
        reason: EndReason,
    ) {
        self.deadlines.remove(&(deadline, call_id.clone(), pid));
        for e in &endpoints {
            if let Some(ep) = self.endpoints.get_mut(e) {
                ep.ringing.remove(call_id);
            }
        }
        self.send(
            endpoints,
            Event::IncomingCallEnded {
                call_id: call_id.clone(),
                reason,
            },
        );
    }

    /// One endpoint of a ringing invitee went away: stop ringing there; with none left, the
    /// invitation ends as unreachable.
    pub(super) fn stop_ringing_endpoint(&mut self, call_id: &CallId, endpoint: EndpointId) {
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        let mut exhausted = None;
        for p in call.participants.values_mut() {
            if let Phase::Ringing { endpoints, .. } = &mut p.phase {
                if let Some(i) = endpoints.iter().position(|e| *e == endpoint) {
                    endpoints.remove(i);
                    if endpoints.is_empty() {
                        exhausted = Some(p.id);
                    }
                }
            }
        }
        if let Some(pid) = exhausted {
            self.leave(call_id, pid, EndReason::NO_ENDPOINT, EndReason::NO_ENDPOINT);
        }
    }

    /// Takes a participant out of the call: a joined one's endpoint sees its call end with
    /// `own_reason`; a ringing one's endpoints stop ringing with it; the others see it removed
    /// with `others_reason`. Then ends the call if it is over.
    pub(super) fn leave(
        &mut self,
        call_id: &CallId,
        pid: ParticipantId,
        own_reason: EndReason,
        others_reason: EndReason,
    ) {
        let Some(was_in_lobby) = self.detach(call_id, pid, own_reason) else {
            return;
        };
        // Only those who manage the lobby knew who waited there.
        let to = if was_in_lobby {
            self.lobby_managers(call_id)
        } else {
            self.calls[call_id].joined_endpoints()
        };
        self.send(
            to,
            Event::Participants {
                call_id: call_id.clone(),
                upsert: Vec::new(),
                removed: vec![RemovedParticipant {
                    participant_id: pid,
                    end_reason: others_reason,
                }],
            },
        );
        // End first, so nobody is told an in-between state of a call that is over.
        self.end_if_over(call_id);
        self.sync(call_id);
    }

    /// Removes a participant and tells it (not the others) why: a joined one's call ends, a
    /// ringing one's endpoints stop ringing. Whether it waited in the lobby, or `None` if
    /// there was no such participant.
    pub(super) fn detach(
        &mut self,
        call_id: &CallId,
        pid: ParticipantId,
        reason: EndReason,
    ) -> Option<bool> {
        let call = self.calls.get_mut(call_id)?;
        let p = call.participants.remove(&pid)?;
        let was_in_lobby = p.in_lobby();
        let unanswered = match p.phase {
            Phase::Phone { progress } => progress != Some(PhoneProgress::Connected),
            Phase::Ringing { .. } => true,
            Phase::Joined { .. } | Phase::Lobby { .. } | Phase::Bot => false,
        };
        if unanswered {
            call.unanswered.push(reason);
        }
        let leg = LegKey {
            call: call_id.clone(),
            participant: pid,
        };
        // A phone's media may be open before it answers (early media): close it whatever.
        if p.is_joined() || matches!(p.phase, Phase::Phone { .. }) {
            self.media(MediaCommand::Close { leg: leg.clone() });
        }
        match p.phase {
            Phase::Joined { endpoint } | Phase::Lobby { endpoint } => {
                if let Some(ep) = self.endpoints.get_mut(&endpoint) {
                    ep.legs.remove(call_id);
                }
                for state in [CallState::Disconnecting, CallState::Disconnected] {
                    let end_reason = (state == CallState::Disconnected).then_some(reason);
                    self.send(
                        vec![endpoint],
                        Event::CallState {
                            call_id: call_id.clone(),
                            state,
                            end_reason,
                            participant_id: Some(pid),
                        },
                    );
                }
            }
            Phase::Bot => {}
            // The gateway hangs up, unless it is what told us the phone is gone.
            Phase::Phone { .. } => self.phone(PhoneCommand::HangUp { leg }),
            Phase::Ringing {
                endpoints,
                deadline,
            } => self.stop_ringing(call_id, (deadline, pid), endpoints, reason),
        }
        Some(was_in_lobby)
    }

    /// Ends a call that is over: an ad hoc call with one participant left and no one ringing,
    /// or any call with no one in it.
    fn end_if_over(&mut self, call_id: &CallId) {
        let Some(call) = self.calls.get(call_id) else {
            return;
        };
        let (joined, ringing) = (call.joined_count(), call.invited_count());
        let waiting = call.participants.values().any(|p| p.in_lobby());
        let over = match call.kind {
            CallKind::Adhoc => joined == 0 || (joined == 1 && ringing == 0),
            // Those waiting in the lobby wait for the organizer to come back.
            CallKind::Group => joined == 0 && !waiting,
        };
        if !over {
            return;
        }
        // Why it ended for whoever is left: the remote hung up (0/0) once answered; before an
        // answer, how the invitations ended.
        let reason = if call.answered {
            call.phone_hung_up.unwrap_or(EndReason::HUNG_UP)
        } else {
            match call.unanswered.as_slice() {
                [] => EndReason::HUNG_UP,
                [only] => *only,
                all if all.iter().all(|r| *r == EndReason::DECLINED) => EndReason::ALL_DECLINED,
                [.., last] => *last,
            }
        };
        let everyone: Vec<(ParticipantId, bool)> = call
            .participants
            .values()
            .map(|p| (p.id, p.endpoint().is_none()))
            .collect();
        for (pid, ringing) in everyone {
            // Invitees still ringing in an abandoned call: the caller cancelled.
            let reason = if ringing {
                EndReason::CANCELLED
            } else {
                reason
            };
            self.detach(call_id, pid, reason);
        }
        if let Some(call) = self.calls.remove(call_id) {
            if let Some(link) = call.transfer.filter(|_| !call.answered) {
                self.transfer_failed(link, reason);
            }
        }
    }
}
