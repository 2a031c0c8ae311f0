//! Telling endpoints what changed: a joiner gets the roster once; after that every change
//! goes out as a delta — the participants that changed, once, to everyone in the call — and
//! each endpoint hears its own call state only when it changed. One change costs the call
//! one frame of the changed participants' size (serialized once by the shell), never the
//! whole roster, and deriving the states costs one pass over the participants. Who waits in
//! the lobby is told only to those who manage it.

use super::model::Participant;
use super::roles::capability;
use super::Hub;
use crate::contract::EndpointId;
use rtcall_protocol::call::{CallId, ParticipantId};
use rtcall_protocol::features::{Capability, CapabilityReason};
use rtcall_protocol::signal::{Event, ParticipantInfo};

impl Hub {
    /// Sends a new joiner the roster as the others know it, and who speaks most. The roster
    /// leaves out the joiner itself: it learns its participant id with its own call state (next
    /// sync), and would otherwise see itself as a remote participant until then.
    pub(super) fn snapshot(
        &mut self,
        endpoint: EndpointId,
        call_id: &CallId,
        joiner: ParticipantId,
    ) {
        let manages = self.lobby_managers(call_id).contains(&endpoint);
        let call = &self.calls[call_id];
        let upsert: Vec<ParticipantInfo> = call
            .participants
            .values()
            .filter(|p| p.id != joiner && p.told_state.is_some() && (manages || !p.in_lobby()))
            .map(Participant::info)
            .collect();
        let ranked = call.dominant.clone();
        if !upsert.is_empty() {
            self.send(
                vec![endpoint],
                Event::Participants {
                    call_id: call_id.clone(),
                    upsert,
                    removed: Vec::new(),
                },
            );
        }
        // Who speaks most changes only now and then: a joiner is told it now, not at the next
        // change.
        if !ranked.is_empty() {
            self.send(
                vec![endpoint],
                Event::DominantSpeakers {
                    call_id: call_id.clone(),
                    ranked,
                },
            );
        }
    }

    /// Recomputes every participant's derived states; tells each endpoint its own call state
    /// when it changed, and everyone the participants that changed (one delta frame).
    pub(super) fn sync(&mut self, call_id: &CallId) {
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        let summary = call.summary();
        let mut own_changes = Vec::new();
        let mut upsert = Vec::new();
        let mut waiting = Vec::new();
        let mut to = Vec::new();
        for p in call.participants.values_mut() {
            let state = p.state();
            if p.told_state != Some(state) || p.dirty {
                p.told_state = Some(state);
                p.dirty = false;
                if p.in_lobby() {
                    waiting.push(p.info());
                } else {
                    upsert.push(p.info());
                }
            }
            if let Some(endpoint) = p.endpoint() {
                to.push(endpoint);
            }
            if let Some(endpoint) = p.own_endpoint() {
                let call_state = p.call_state(summary);
                if p.told_call_state.replace(call_state) != Some(call_state) {
                    own_changes.push((endpoint, p.id, call_state));
                }
            }
        }
        for (endpoint, pid, state) in own_changes {
            self.send(
                vec![endpoint],
                Event::CallState {
                    call_id: call_id.clone(),
                    state,
                    end_reason: None,
                    participant_id: Some(pid),
                },
            );
        }
        if !upsert.is_empty() {
            self.send(
                to,
                Event::Participants {
                    call_id: call_id.clone(),
                    upsert,
                    removed: Vec::new(),
                },
            );
        }
        if !waiting.is_empty() {
            let managers = self.lobby_managers(call_id);
            self.send(
                managers,
                Event::Participants {
                    call_id: call_id.clone(),
                    upsert: waiting,
                    removed: Vec::new(),
                },
            );
        }
        self.tell_rights(call_id);
        // A call a transfer made was answered: the call it replaces is over.
        if let Some(link) = self
            .calls
            .get_mut(call_id)
            .filter(|c| c.answered)
            .and_then(|c| c.transfer.take())
        {
            self.transfer_done(link);
        }
    }

    /// The endpoints in the call that may manage its lobby.
    pub(super) fn lobby_managers(&self, call_id: &CallId) -> Vec<EndpointId> {
        let Some(call) = self.calls.get(call_id).filter(|c| c.lobby) else {
            return Vec::new();
        };
        let phones = !self.config.phone_numbers.is_empty();
        call.participants
            .values()
            .filter(|p| {
                capability(call.rights(p), Capability::ManageLobby, phones)
                    == CapabilityReason::Capable
            })
            .filter_map(Participant::endpoint)
            .collect()
    }
}
