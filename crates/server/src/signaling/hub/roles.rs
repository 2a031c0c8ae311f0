//! Who may do what in a call. A participant's role follows from how it came in (a group call's
//! maker is its organizer; joiners of a group call with a lobby are attendees, of one without
//! presenters; ad hoc calls have no roles), and its capabilities from its role and the kind of
//! call. The service decides: requests that need a capability are refused here with a typed
//! error, whatever the client believes, and each endpoint is told its role and capabilities
//! whenever what they follow from changes.

use super::model::{Call, CallKind, Participant, Rights};
use super::{error, Hub, Outcome};
use crate::contract::{EndpointId, LegKey};
use rtcall_protocol::call::CallId;
use rtcall_protocol::features::{Capability, CapabilityReason, FeatureEvent, Role};
use rtcall_protocol::signal::{ErrorKind, Event, WireError};
use std::collections::BTreeMap;

impl Call {
    /// The role of a participant of `identity` coming into the call now.
    pub(super) fn role_for(&self, identity: &str) -> Role {
        match self.kind {
            CallKind::Adhoc => Role::Unknown,
            CallKind::Group if self.organizer.as_deref() == Some(identity) => Role::Organizer,
            CallKind::Group if self.lobby => Role::Attendee,
            CallKind::Group => Role::Presenter,
        }
    }

    /// What a participant's capabilities follow from now.
    pub(super) fn rights(&self, p: &Participant) -> Rights {
        Rights {
            role: p.role,
            one_to_one: self.one_to_one(),
            lobby: self.lobby,
        }
    }
}

/// Whether `rights` give `capability`, and if not why. `phones`: the deployment can call phone
/// numbers.
pub(super) fn capability(rights: Rights, capability: Capability, phones: bool) -> CapabilityReason {
    use Capability::*;
    use CapabilityReason::*;
    // Ad hoc calls have no roles: everyone may do everything that applies.
    let manages = matches!(
        rights.role,
        Role::Organizer | Role::Presenter | Role::Unknown
    );
    match capability {
        AddTeamsUser
        | BlurBackground
        | StartLiveMeetingCaptions
        | StartLiveCallingCaptions
        | SetCaptionLanguage
        | StartTogetherMode
        | JoinBreakoutRooms
        | ForbidOthersAudio
        | ForbidOthersVideo => FeatureNotSupported,
        TurnVideoOn | UnmuteMic | RaiseHand | UseReactions | ViewAttendeeNames | RealTimeText => {
            Capable
        }
        AddPhoneNumber | PstnDialOut if !phones => FeatureNotSupported,
        ManageLobby if !rights.lobby => CapabilityNotApplicableForTheCallType,
        MuteOthers | SpotlightParticipant | RemoveParticipantsSpotlight if rights.one_to_one => {
            CapabilityNotApplicableForTheCallType
        }
        _ if manages => Capable,
        _ => RoleRestricted,
    }
}

/// Every capability `rights` give or not.
pub(super) fn capabilities(rights: Rights, phones: bool) -> BTreeMap<Capability, CapabilityReason> {
    Capability::ALL
        .into_iter()
        .map(|c| (c, capability(rights, c, phones)))
        .collect()
}

impl Hub {
    /// Refuses a request that needs `needed` unless the endpoint's participant in the call has
    /// it (and is in the call, not its lobby).
    pub(super) fn require(
        &self,
        endpoint: EndpointId,
        call_id: &CallId,
        needed: Capability,
    ) -> Outcome {
        let leg = self.in_call(endpoint, call_id)?;
        let call = &self.calls[call_id];
        let p = &call.participants[&leg.participant];
        let phones = !self.config.phone_numbers.is_empty();
        match capability(call.rights(p), needed, phones) {
            CapabilityReason::Capable => Ok(()),
            CapabilityReason::RoleRestricted => Err(error(
                ErrorKind::RoleRestricted,
                format!("a participant whose role is {:?} may not do this", p.role),
            )),
            CapabilityReason::CapabilityNotApplicableForTheCallType => Err(error(
                ErrorKind::NotForThisCall,
                "not available in this kind of call",
            )),
            CapabilityReason::FeatureNotSupported => Err(error(
                ErrorKind::NotForThisCall,
                "not available on this service",
            )),
        }
    }

    /// The leg of `endpoint` in a call it is in, and not waiting in its lobby.
    pub(super) fn in_call(
        &self,
        endpoint: EndpointId,
        call_id: &CallId,
    ) -> Result<LegKey, WireError> {
        let leg = self.leg_of(endpoint, call_id)?;
        if self.participant(&leg).is_some_and(Participant::in_lobby) {
            return Err(error(
                ErrorKind::WrongState,
                "waiting in the lobby: not admitted yet",
            ));
        }
        Ok(leg)
    }

    /// Tells each endpoint in the call its role and capabilities where what they follow from
    /// changed since it was last told. Cheap when nothing did: one comparison a participant.
    pub(super) fn tell_rights(&mut self, call_id: &CallId) {
        let phones = !self.config.phone_numbers.is_empty();
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        let mut told = Vec::new();
        let (one_to_one, lobby) = (call.one_to_one(), call.lobby);
        for p in call.participants.values_mut() {
            let Some(endpoint) = p.own_endpoint() else {
                continue;
            };
            let rights = Rights {
                role: p.role,
                one_to_one,
                lobby,
            };
            let before = p.told_rights.replace(rights);
            if before != Some(rights) {
                let role_changed = before.map(|r| r.role) != Some(rights.role);
                told.push((endpoint, rights, role_changed));
            }
        }
        for (endpoint, rights, role_changed) in told {
            if role_changed {
                self.send(
                    vec![endpoint],
                    Event::Role {
                        call_id: call_id.clone(),
                        role: rights.role,
                    },
                );
            }
            self.send(
                vec![endpoint],
                Event::Feature {
                    call_id: call_id.clone(),
                    event: FeatureEvent::Capabilities {
                        capabilities: capabilities(rights, phones),
                    },
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rights(role: Role, one_to_one: bool, lobby: bool) -> Rights {
        Rights {
            role,
            one_to_one,
            lobby,
        }
    }

    #[test]
    fn attendees_take_part_but_do_not_manage() {
        let attendee = rights(Role::Attendee, false, true);
        for c in [
            Capability::MuteOthers,
            Capability::ManageLobby,
            Capability::RemoveParticipant,
            Capability::HangUpForEveryOne,
            Capability::SpotlightParticipant,
            Capability::ShareScreen,
        ] {
            assert_eq!(
                capability(attendee, c, true),
                CapabilityReason::RoleRestricted,
                "{c:?}"
            );
        }
        for c in [
            Capability::TurnVideoOn,
            Capability::UnmuteMic,
            Capability::RaiseHand,
            Capability::UseReactions,
            Capability::RealTimeText,
        ] {
            assert_eq!(
                capability(attendee, c, true),
                CapabilityReason::Capable,
                "{c:?}"
            );
        }
        let organizer = rights(Role::Organizer, false, true);
        assert!(Capability::ALL
            .iter()
            .all(|c| capability(organizer, *c, true) != CapabilityReason::RoleRestricted));
    }

    #[test]
    fn what_does_not_apply_says_so() {
        let one_to_one = rights(Role::Unknown, true, false);
        assert_eq!(
            capability(one_to_one, Capability::MuteOthers, true),
            CapabilityReason::CapabilityNotApplicableForTheCallType
        );
        assert_eq!(
            capability(one_to_one, Capability::ManageLobby, true),
            CapabilityReason::CapabilityNotApplicableForTheCallType
        );
        assert_eq!(
            capability(one_to_one, Capability::HangUpForEveryOne, true),
            CapabilityReason::Capable
        );
        assert_eq!(
            capability(one_to_one, Capability::AddPhoneNumber, false),
            CapabilityReason::FeatureNotSupported
        );
        assert_eq!(
            capability(
                rights(Role::Unknown, false, false),
                Capability::MuteOthers,
                true
            ),
            CapabilityReason::Capable,
            "a 1:1 call promoted to a group"
        );
        assert_eq!(capabilities(one_to_one, true).len(), 25);
    }
}
