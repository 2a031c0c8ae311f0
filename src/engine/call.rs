//! One call as this endpoint sees it: its state, its end reason, who else is in it and how they
//! are, and the dominant speakers. Server events go in; [`CallChange`]s come out, one per
//! property or collection event the JavaScript objects fire.

use rtcall_protocol::call::{CallId, CallState, EndReason, ParticipantId, ParticipantState};
use rtcall_protocol::signal::{EchoReport, Event, ParticipantInfo, StreamInfo};
use std::collections::BTreeMap;

/// A remote participant, as last reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteModel {
    /// Id within the call.
    pub id: ParticipantId,
    /// Raw id of the identity.
    pub identity: String,
    /// Display name.
    pub display_name: String,
    /// State.
    pub state: ParticipantState,
    /// Microphone muted.
    pub muted: bool,
    /// Speaking now.
    pub speaking: bool,
    /// Video streams (camera and screen), available or not.
    pub streams: Vec<StreamInfo>,
    /// Why it left, once it has.
    pub end_reason: Option<EndReason>,
}

impl RemoteModel {
    fn from_info(info: &ParticipantInfo) -> Self {
        RemoteModel {
            id: info.participant_id,
            identity: info.identity.clone(),
            display_name: info.display_name.clone(),
            state: info.state,
            muted: info.muted,
            speaking: info.speaking,
            streams: info.streams.clone(),
            end_reason: None,
        }
    }
}

/// Which properties of a participant changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParticipantChanges {
    /// `state`.
    pub state: bool,
    /// `isMuted`.
    pub muted: bool,
    /// `displayName`.
    pub display_name: bool,
    /// `isSpeaking`.
    pub speaking: bool,
    /// A stream's `isAvailable`.
    pub streams: bool,
}

/// One change, in the order the events fire.
#[derive(Debug, Clone, PartialEq)]
pub enum CallChange {
    /// `state` became this, with the end reason when `Disconnected`.
    State(CallState, Option<EndReason>),
    /// `isMuted` changed to this.
    Muted(bool),
    /// A participant changed; the snapshot is its new state.
    Participant(RemoteModel, ParticipantChanges),
    /// Participants joined the roster.
    Added(Vec<RemoteModel>),
    /// Participants left, with their final state (`Disconnected`, with an end reason).
    Removed(Vec<RemoteModel>),
    /// The ranked dominant speakers changed to these, most dominant first.
    DominantSpeakers(Vec<ParticipantId>),
    /// The echo test bot reported.
    EchoReport(EchoReport),
    /// A phone in the call pressed a key (ACS's tone name).
    DtmfReceived(ParticipantId, String),
}

/// A call.
#[derive(Debug, Clone)]
pub struct CallModel {
    /// The call.
    pub id: CallId,
    /// State.
    pub state: CallState,
    /// Why it ended.
    pub end_reason: Option<EndReason>,
    /// This endpoint's microphone is muted.
    pub muted: bool,
    /// This endpoint's participant id, once known.
    pub me: Option<ParticipantId>,
    /// Everyone else.
    pub participants: BTreeMap<ParticipantId, RemoteModel>,
    /// Dominant speakers, most dominant first (may include this endpoint).
    pub dominant: Vec<ParticipantId>,
}

impl CallModel {
    /// A call being set up.
    pub fn new(id: CallId, muted: bool) -> Self {
        CallModel {
            id,
            state: CallState::None,
            end_reason: None,
            muted,
            me: None,
            participants: BTreeMap::new(),
            dominant: Vec::new(),
        }
    }

    /// Applies a server event about this call.
    pub fn apply(&mut self, event: Event) -> Vec<CallChange> {
        let mut changes = Vec::new();
        match event {
            Event::CallState {
                state,
                end_reason,
                participant_id,
                ..
            } => {
                if participant_id.is_some() {
                    self.me = participant_id;
                    // The roster may have listed us before we knew who we are.
                    if let Some(me) = self.me {
                        if let Some(mine) = self.participants.remove(&me) {
                            changes.push(CallChange::Removed(vec![mine]));
                        }
                    }
                }
                if state == CallState::Disconnected {
                    changes.extend(self.end(end_reason.unwrap_or(EndReason::HUNG_UP)));
                } else if state != self.state {
                    self.state = state;
                    changes.push(CallChange::State(state, None));
                }
            }
            Event::Participants {
                upsert, removed, ..
            } => {
                let mut added = Vec::new();
                for info in upsert {
                    if Some(info.participant_id) == self.me {
                        continue;
                    }
                    match self.participants.get_mut(&info.participant_id) {
                        None => {
                            let model = RemoteModel::from_info(&info);
                            added.push(model.clone());
                            self.participants.insert(info.participant_id, model);
                        }
                        Some(known) => {
                            let diff = ParticipantChanges {
                                state: known.state != info.state,
                                muted: known.muted != info.muted,
                                display_name: known.display_name != info.display_name,
                                speaking: known.speaking != info.speaking,
                                streams: known.streams != info.streams,
                            };
                            known.state = info.state;
                            known.muted = info.muted;
                            known.speaking = info.speaking;
                            known.display_name = info.display_name.clone();
                            known.streams = info.streams.clone();
                            if diff != ParticipantChanges::default() {
                                changes.push(CallChange::Participant(known.clone(), diff));
                            }
                        }
                    }
                }
                let mut gone = Vec::new();
                for r in removed {
                    if let Some(mut model) = self.participants.remove(&r.participant_id) {
                        model.state = ParticipantState::Disconnected;
                        model.end_reason = Some(r.end_reason);
                        model.speaking = false;
                        changes.push(CallChange::Participant(
                            model.clone(),
                            ParticipantChanges {
                                state: true,
                                ..Default::default()
                            },
                        ));
                        gone.push(model);
                    }
                }
                if !added.is_empty() {
                    changes.push(CallChange::Added(added));
                }
                if !gone.is_empty() {
                    changes.push(CallChange::Removed(gone));
                }
            }
            Event::Speaking {
                participant_id,
                speaking,
                ..
            } => {
                if let Some(p) = self.participants.get_mut(&participant_id) {
                    if p.speaking != speaking {
                        p.speaking = speaking;
                        changes.push(CallChange::Participant(
                            p.clone(),
                            ParticipantChanges {
                                speaking: true,
                                ..Default::default()
                            },
                        ));
                    }
                }
            }
            Event::DominantSpeakers { ranked, .. } if ranked != self.dominant => {
                self.dominant = ranked.clone();
                changes.push(CallChange::DominantSpeakers(ranked));
            }
            Event::EchoReport { report, .. } => changes.push(CallChange::EchoReport(report)),
            Event::DtmfReceived {
                participant_id,
                tone,
                ..
            } => changes.push(CallChange::DtmfReceived(participant_id, tone)),
            _ => {}
        }
        changes
    }

    /// Ends the call locally (Disconnecting, then Disconnected with `reason`); everyone else
    /// leaves the roster.
    pub fn end(&mut self, reason: EndReason) -> Vec<CallChange> {
        if self.state == CallState::Disconnected {
            return Vec::new();
        }
        let mut changes = Vec::new();
        if self.state != CallState::Disconnecting {
            self.state = CallState::Disconnecting;
            changes.push(CallChange::State(CallState::Disconnecting, None));
        }
        self.state = CallState::Disconnected;
        self.end_reason = Some(reason);
        changes.push(CallChange::State(CallState::Disconnected, Some(reason)));
        let everyone: Vec<RemoteModel> = std::mem::take(&mut self.participants)
            .into_values()
            .map(|mut p| {
                p.state = ParticipantState::Disconnected;
                p.end_reason.get_or_insert(EndReason::HUNG_UP);
                p
            })
            .collect();
        for p in &everyone {
            changes.push(CallChange::Participant(
                p.clone(),
                ParticipantChanges {
                    state: true,
                    ..Default::default()
                },
            ));
        }
        if !everyone.is_empty() {
            changes.push(CallChange::Removed(everyone));
        }
        changes
    }

    /// A participant by id.
    pub fn participant(&self, id: ParticipantId) -> Option<&RemoteModel> {
        self.participants.get(&id)
    }
}
