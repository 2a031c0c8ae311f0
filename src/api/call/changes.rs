//! What the service says changed in a call — its state, mute (also by others), role, who is in
//! it or its lobby and how they are, the dominant speakers, keys a phone pressed, the echo
//! bot's report, feature events — applied to the call's objects and fired as the ACS events
//! they mean.

use super::Call;
use crate::api::diagnostics::UserFacingDiagnosticsFeature;
use crate::api::events::object;
use crate::api::features::{one, EchoTestFeature};
use crate::api::participant::RemoteParticipant;
use crate::engine::call::CallChange;
use rtcall_protocol::call::{CallState, ParticipantId, ParticipantState};
use wasm_bindgen::prelude::*;

impl Call {
    /// Applies an engine change and fires the events it means.
    pub(crate) fn apply(&self, change: CallChange) {
        let inner = &self.inner;
        match change {
            CallChange::State(state, end_reason) => {
                if state == CallState::Disconnected {
                    inner.end_reason.set(end_reason);
                }
                if inner.state.replace(state) != state {
                    inner.emitter.changed("stateChanged");
                }
                if state == CallState::Disconnected {
                    self.close();
                }
            }
            CallChange::Muted(muted) => {
                if inner.media.muted.replace(muted) != muted {
                    inner.emitter.changed("isMutedChanged");
                }
            }
            CallChange::Participant(model, changes) => {
                if let Some(p) = self.participant_by_id(model.id) {
                    let waited = p.state_now() == ParticipantState::InLobby;
                    p.update(&model, changes);
                    if waited && model.state != ParticipantState::InLobby {
                        // Let in (or gone from the lobby): it is in the call from now.
                        inner.lobby.updated(Vec::new(), vec![p.js()]);
                        if model.state != ParticipantState::Disconnected && !p.list() {
                            inner.emitter.updated(
                                "remoteParticipantsUpdated",
                                vec![p.js()],
                                Vec::new(),
                            );
                        }
                    }
                    if changes.reconnecting {
                        one(&inner.media.diagnostics, UserFacingDiagnosticsFeature::new)
                            .remote_group()
                            .set_reconnecting(&p, model.reconnecting);
                    }
                }
            }
            CallChange::Rekeyed { from, to } => {
                if let Some(p) = self.participant_by_id(from) {
                    p.rekey(to);
                }
            }
            CallChange::Added(models) => {
                let mut added = Vec::new();
                let mut waiting = Vec::new();
                for model in models {
                    // A participant added through addParticipant exists already, unbound.
                    let placeholder = inner
                        .participants
                        .borrow()
                        .iter()
                        .find(|p| p.is_placeholder_for(&model.identity))
                        .cloned();
                    match placeholder {
                        Some(p) => p.bind(&model),
                        None => {
                            let p =
                                RemoteParticipant::from_model(self.host_of_participants(), &model);
                            inner.participants.borrow_mut().push(p.clone());
                            if model.state == ParticipantState::InLobby {
                                waiting.push(p.js());
                            } else {
                                p.list();
                                added.push(p.js());
                            }
                        }
                    }
                }
                inner
                    .emitter
                    .updated("remoteParticipantsUpdated", added, Vec::new());
                inner.lobby.updated(waiting, Vec::new());
            }
            CallChange::Removed(models) => {
                let mut removed = Vec::new();
                for model in models {
                    let gone = {
                        let mut list = inner.participants.borrow_mut();
                        list.iter()
                            .position(|p| p.id() == Some(model.id))
                            .map(|i| list.remove(i))
                    };
                    if let Some(p) = gone {
                        if p.is_listed() {
                            removed.push(p.js());
                        }
                        p.release();
                    }
                }
                inner
                    .emitter
                    .updated("remoteParticipantsUpdated", Vec::new(), removed);
            }
            CallChange::DominantSpeakers(ranked) => {
                if let Some(feature) = inner.dominant.borrow().as_ref() {
                    feature.update(self.identifiers_of(&ranked));
                }
            }
            CallChange::DtmfReceived(participant, tone) => {
                let participant = self
                    .participant_by_id(participant)
                    .map_or(JsValue::UNDEFINED, |p| p.js());
                inner.emitter.emit(
                    "dtmfReceived",
                    object(&[("participant", participant), ("tone", tone.into())]),
                );
            }
            CallChange::Role(role) => {
                inner.role.set(role);
                inner.emitter.changed("roleChanged");
            }
            CallChange::MutedByOthers => {
                // The service counts the microphone muted already; it is, from now.
                inner.media.mute_tracks(true);
                inner.emitter.changed("mutedByOthers");
            }
            CallChange::Feature(event) => inner.features.event(&event),
            CallChange::EchoReport(report) => {
                inner
                    .echo_test
                    .borrow_mut()
                    .get_or_insert_with(EchoTestFeature::new)
                    .update(report);
            }
        }
    }

    /// Raw ids of participants, including this endpoint's own.
    fn identifiers_of(&self, ids: &[ParticipantId]) -> Vec<String> {
        let own = self
            .inner
            .driver
            .upgrade()
            .and_then(|d| d.read(|engine| engine.call(&self.inner.id).and_then(|c| c.me)));
        ids.iter()
            .filter_map(|id| {
                if Some(*id) == own {
                    Some(self.inner.identity.clone())
                } else {
                    self.participant_by_id(*id).map(|p| p.identity().to_owned())
                }
            })
            .collect()
    }

    fn participant_by_id(&self, id: ParticipantId) -> Option<RemoteParticipant> {
        self.inner
            .participants
            .borrow()
            .iter()
            .find(|p| p.id() == Some(id))
            .cloned()
    }
}
