//! Phone participants: calls to numbers dialled through the telephone gateway, calls from
//! phones to the deployment's numbers, their progress (ringing, early media, answered) and
//! their keys. The gateway is reached only through [`PhoneCommand`]s and heard through
//! [`PhoneEvent`]s; a phone's audio joins the call's media like anyone's.

use super::model::{phone_number, Call, CallKind, Phase};
use super::{error, Hub, Outcome};
use crate::contract::{
    EndpointId, LegKey, MediaCommand, PhoneCommand, PhoneEvent, PhoneProgress, PhoneTarget,
};
use rtcall_protocol::call::{CallId, ParticipantId};
use rtcall_protocol::signal::{ErrorKind, Event, WireError};
use std::time::Instant;

impl Hub {
    /// The telephone gateway says how a phone participant's call goes.
    pub fn handle_phone(&mut self, now: Instant, event: PhoneEvent) {
        match event {
            PhoneEvent::Progress { leg, progress } => {
                let Some(call) = self.calls.get_mut(&leg.call) else {
                    return;
                };
                let Some(p) = call.participants.get_mut(&leg.participant) else {
                    return;
                };
                p.phase = Phase::Phone {
                    progress: Some(progress),
                };
                if progress == PhoneProgress::Connected {
                    p.media_connected = true;
                    call.answered = true;
                }
                p.dirty = true;
                if progress != PhoneProgress::Ringing {
                    // The phone's audio (early or answered) joins the call's media through the
                    // gateway's own connection to the SFU; opening twice is a no-op.
                    self.media(MediaCommand::Open { leg: leg.clone() });
                }
                self.sync(&leg.call);
            }
            PhoneEvent::Incoming {
                leg,
                caller,
                target,
            } => self.phone_calls_in(now, leg, caller, target),
            PhoneEvent::Dtmf { leg, code } => {
                let Some(tone) = rtcall_sip::dtmf::tone_name(code) else {
                    return;
                };
                let Some(call) = self.calls.get(&leg.call) else {
                    return;
                };
                let to = call.joined_endpoints();
                self.send(
                    to,
                    Event::DtmfReceived {
                        call_id: leg.call,
                        participant_id: leg.participant,
                        tone: tone.into(),
                    },
                );
            }
            PhoneEvent::Answer { leg, version, sdp } => {
                self.media(MediaCommand::Answer {
                    leg,
                    version,
                    sdp,
                    reply: None,
                });
            }
            PhoneEvent::Ended { leg, reason } => {
                let answered = self.participant(&leg).is_some_and(|p| p.is_joined());
                if let Some(call) = self.calls.get_mut(&leg.call).filter(|_| answered) {
                    call.phone_hung_up = Some(reason);
                }
                self.leave(&leg.call, leg.participant, reason, reason);
            }
        }
    }

    /// A key for every phone answered in the caller's call.
    pub(super) fn send_dtmf(
        &mut self,
        endpoint: EndpointId,
        call_id: &CallId,
        tone: &str,
    ) -> Outcome {
        self.leg_of(endpoint, call_id)?;
        let code = rtcall_sip::dtmf::event_code(tone).ok_or_else(|| {
            error(
                ErrorKind::InvalidArgument,
                format!("{tone:?} is not a DTMF tone (Num0-Num9, Star, Pound, A-D, Flash)"),
            )
        })?;
        let answered = |progress: Option<PhoneProgress>| {
            matches!(
                progress,
                Some(PhoneProgress::Connected | PhoneProgress::EarlyMedia)
            )
        };
        let told = self.tell_phones(call_id, answered, |leg| PhoneCommand::SendDtmf {
            leg,
            code,
        });
        if told == 0 {
            return Err(error(
                ErrorKind::WrongState,
                "no phone is connected in this call to send a tone to",
            ));
        }
        Ok(())
    }

    /// Gives `command` to the gateway for each phone in the call whose progress `which`
    /// accepts; returns how many.
    pub(super) fn tell_phones(
        &mut self,
        call_id: &CallId,
        which: impl Fn(Option<PhoneProgress>) -> bool,
        command: impl Fn(LegKey) -> PhoneCommand,
    ) -> usize {
        let phones: Vec<ParticipantId> = self.calls[call_id]
            .participants
            .values()
            .filter(|p| matches!(p.phase, Phase::Phone { progress } if which(progress)))
            .map(|p| p.id)
            .collect();
        for &participant in &phones {
            self.phone(command(LegKey {
                call: call_id.clone(),
                participant,
            }));
        }
        phones.len()
    }

    /// The caller id a call to a phone shows: required, and a number of the deployment's.
    pub(super) fn check_caller_id<'a>(
        &self,
        caller_id: Option<&'a str>,
    ) -> Result<&'a str, WireError> {
        if self.config.phone_numbers.is_empty() {
            return Err(error(
                ErrorKind::PhoneUnavailable,
                "this deployment has no telephone trunk: phone numbers cannot be called",
            ));
        }
        let caller_id = caller_id.ok_or_else(|| {
            error(
                ErrorKind::InvalidArgument,
                "calling a phone number needs alternateCallerId, a number of this deployment",
            )
        })?;
        if !self.config.phone_numbers.iter().any(|n| n == caller_id) {
            return Err(error(
                ErrorKind::InvalidArgument,
                format!("alternateCallerId {caller_id} is not a number of this deployment"),
            ));
        }
        Ok(caller_id)
    }

    /// Adds a phone participant (`identity` is its `4:+…` raw id) and has the gateway dial it.
    pub(super) fn dial(&mut self, call_id: &CallId, identity: String, caller_id: String) {
        let number = phone_number(&identity).unwrap_or_default().to_owned();
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        let pid = call.add(identity, number.clone(), Phase::Phone { progress: None });
        self.phone(PhoneCommand::Dial {
            leg: LegKey {
                call: call_id.clone(),
                participant: pid,
            },
            number,
            caller_id,
        });
    }

    /// A phone calls: a new call ringing the user the number goes to, or the group call it
    /// joins (answered at once). The phone is in the call from the start, as any caller is.
    fn phone_calls_in(
        &mut self,
        now: Instant,
        proposed: LegKey,
        caller: String,
        target: PhoneTarget,
    ) {
        let identity = format!("4:{caller}");
        let (call_id, kind) = match &target {
            PhoneTarget::User(_) => (proposed.call.clone(), CallKind::Adhoc),
            PhoneTarget::Group(group) => (CallId(group.clone()), CallKind::Group),
        };
        let full = self.calls.get(&call_id).is_some_and(|c| {
            c.kind != kind || c.participants.len() >= self.config.max_participants
        });
        if full || (kind == CallKind::Adhoc && self.calls.contains_key(&call_id)) {
            self.phone(PhoneCommand::HangUp { leg: proposed });
            return;
        }
        let call = self
            .calls
            .entry(call_id.clone())
            .or_insert_with(|| Call::new(kind));
        let pid = call.add(
            identity,
            caller,
            Phase::Phone {
                progress: Some(PhoneProgress::Connected),
            },
        );
        let leg = LegKey {
            call: call_id.clone(),
            participant: pid,
        };
        if leg != proposed {
            self.phone(PhoneCommand::Rebind {
                from: proposed,
                to: leg.clone(),
            });
        }
        match target {
            PhoneTarget::User(user) => {
                if let Some((invitee, reason)) = self.invite(now, &call_id, user, None) {
                    self.leave(&call_id, invitee, reason, reason);
                }
            }
            PhoneTarget::Group(_) => self.phone(PhoneCommand::Answer { leg }),
        }
        self.sync(&call_id);
    }
}
