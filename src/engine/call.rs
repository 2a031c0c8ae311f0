//! One call as this endpoint sees it: its state, its end reason, who else is in it and how they
//! are, and the dominant speakers. Server events go in; [`CallChange`]s come out, one per
//! property or collection event the JavaScript objects fire.
//!
//! A group call can be joined again on a new session (the service restarted): the remote
//! participants stay, and each is matched by identity to its new id as the service lists it
//! ([`CallChange::Rekeyed`]); whoever is not back within [`REJOIN_GRACE`] leaves. The call's
//! state stays what it was until the new connection is up.

use rtcall_protocol::call::{CallId, CallState, EndReason, ParticipantId, ParticipantState};
use rtcall_protocol::features::{RawJson, Role};
use rtcall_protocol::signal::{EchoReport, Event, ParticipantInfo, StreamInfo};
use std::collections::BTreeMap;

/// Milliseconds since the Unix epoch.
type Millis = u64;

/// After joining a group call again, how long participants of before have to reappear.
pub const REJOIN_GRACE: Millis = 10_000;

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
    /// Its connection to the service is lost and it is reconnecting.
    pub reconnecting: bool,
    /// Its role.
    pub role: Role,
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
            reconnecting: info.reconnecting,
            role: info.role,
        }
    }

    /// Takes what `info` says; returns what changed.
    fn update(&mut self, info: &ParticipantInfo) -> ParticipantChanges {
        let diff = ParticipantChanges {
            state: self.state != info.state,
            muted: self.muted != info.muted,
            display_name: self.display_name != info.display_name,
            speaking: self.speaking != info.speaking,
            streams: self.streams != info.streams,
            reconnecting: self.reconnecting != info.reconnecting,
            role: self.role != info.role,
        };
        self.state = info.state;
        self.muted = info.muted;
        self.speaking = info.speaking;
        self.display_name = info.display_name.clone();
        self.streams = info.streams.clone();
        self.reconnecting = info.reconnecting;
        self.role = info.role;
        diff
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
    /// Whether it is reconnecting (its `networkReconnect` remote diagnostic).
    pub reconnecting: bool,
    /// `role`.
    pub role: bool,
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
    /// A participant of before a rejoin is back under a new id (the same object for the app).
    Rekeyed {
        /// Its id before.
        from: ParticipantId,
        /// Its id now.
        to: ParticipantId,
    },
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
    /// This endpoint's `role` changed to this.
    Role(Role),
    /// Someone muted this endpoint (`isMuted` changed first, if it did).
    MutedByOthers,
    /// A call feature's event, for the feature's code.
    Feature(RawJson),
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
    /// This endpoint's role.
    pub role: Role,
    /// Everyone else.
    pub participants: BTreeMap<ParticipantId, RemoteModel>,
    /// Dominant speakers, most dominant first (may include this endpoint).
    pub dominant: Vec<ParticipantId>,
    /// A group call (joined by id), which can be joined again.
    pub group: bool,
    /// Joined asking for a lobby (kept for joining again after the service restarted).
    pub lobby: bool,
    /// Joined again: the participants of before not listed yet, and until when they may be.
    stale: Vec<RemoteModel>,
    stale_until: Option<Millis>,
    /// Joined again and not connected yet: the state the app sees stays.
    rejoining: bool,
}

impl CallModel {
    /// A call being set up, in `state` (`None` until the service says more; `Connecting` for
    /// a call this endpoint answered, as ACS shows an accepted call at once).
    pub fn new(id: CallId, state: CallState, muted: bool) -> Self {
        CallModel {
            id,
            state,
            end_reason: None,
            muted,
            me: None,
            role: Role::Unknown,
            participants: BTreeMap::new(),
            dominant: Vec::new(),
            group: false,
            lobby: false,
            stale: Vec::new(),
            stale_until: None,
            rejoining: false,
        }
    }

    /// The call is being joined again on a new session, at `now`: participant ids start over.
    /// The participants of before get ids from the top of the range meanwhile, which the
    /// service's new ones (counted from 0) cannot collide with.
    pub fn rejoin(&mut self, now: Millis) -> Vec<CallChange> {
        self.me = None;
        self.dominant.clear();
        let mut changes = Vec::new();
        for (i, mut p) in std::mem::take(&mut self.participants)
            .into_values()
            .enumerate()
        {
            let to = ParticipantId(u32::MAX - (self.stale.len() + i) as u32);
            changes.push(CallChange::Rekeyed { from: p.id, to });
            p.id = to;
            self.stale.push(p);
        }
        self.stale_until = Some(now + REJOIN_GRACE);
        self.rejoining = true;
        changes
    }

    /// When participants of before a rejoin that are not back leave.
    pub fn stale_deadline(&self) -> Option<Millis> {
        self.stale_until
    }

    /// Participants of before a rejoin not back by now leave, as having left abruptly.
    pub fn expire_stale(&mut self, now: Millis) -> Vec<CallChange> {
        if self.stale_until.is_none_or(|at| now < at) {
            return Vec::new();
        }
        self.stale_until = None;
        let gone: Vec<RemoteModel> = std::mem::take(&mut self.stale)
            .into_iter()
            .map(|mut p| {
                p.state = ParticipantState::Disconnected;
                p.end_reason = Some(EndReason::LEFT_ABRUPTLY);
                p.speaking = false;
                p
            })
            .collect();
        let mut changes: Vec<CallChange> = gone
            .iter()
            .map(|p| {
                CallChange::Participant(
                    p.clone(),
                    ParticipantChanges {
                        state: true,
                        ..Default::default()
                    },
                )
            })
            .collect();
        if !gone.is_empty() {
            changes.push(CallChange::Removed(gone));
        }
        changes
    }

    /// Applies a server event about this call.
    pub fn apply(&mut self, event: Event<RawJson>) -> Vec<CallChange> {
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
                } else if self.rejoining && state != CallState::Connected {
                    // Joining again: the app keeps seeing the call as it was.
                } else {
                    self.rejoining = false;
                    if state != self.state {
                        self.state = state;
                        changes.push(CallChange::State(state, None));
                    }
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
                    if !self.participants.contains_key(&info.participant_id) {
                        if let Some(i) = self.stale.iter().position(|p| p.identity == info.identity)
                        {
                            let mut back = self.stale.remove(i);
                            changes.push(CallChange::Rekeyed {
                                from: back.id,
                                to: info.participant_id,
                            });
                            back.id = info.participant_id;
                            self.participants.insert(info.participant_id, back);
                        }
                    }
                    match self.participants.get_mut(&info.participant_id) {
                        None => {
                            let model = RemoteModel::from_info(&info);
                            added.push(model.clone());
                            self.participants.insert(info.participant_id, model);
                        }
                        Some(known) => {
                            let diff = known.update(&info);
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
            Event::Role { role, .. } if role != self.role => {
                self.role = role;
                changes.push(CallChange::Role(role));
            }
            Event::MutedByOthers { .. } => {
                if !self.muted {
                    self.muted = true;
                    changes.push(CallChange::Muted(true));
                }
                changes.push(CallChange::MutedByOthers);
            }
            Event::Feature { event, .. } => changes.push(CallChange::Feature(event)),
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
        self.stale_until = None;
        let everyone: Vec<RemoteModel> = std::mem::take(&mut self.participants)
            .into_values()
            .chain(std::mem::take(&mut self.stale))
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
