//! The hub's call model: endpoints, calls and participants as facts (ringing or joined, media
//! connected, on hold, …), and the states each endpoint sees derived from those facts. Plain
//! data and pure functions; what changes them lives in the lifecycle, what tells them in the
//! roster.

use crate::contract::{EndpointId, PhoneProgress};
use rtcall_protocol::call::{
    CallId, CallState, EndReason, ParticipantId, ParticipantState, StreamId, StreamKind,
};
use rtcall_protocol::features::Role;
use rtcall_protocol::signal::{ParticipantInfo, StreamInfo, VideoSource};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CallKind {
    /// Started with `startCall`: ends when fewer than two remain.
    Adhoc,
    /// Joined with a group id: lasts while anyone is in it.
    Group,
}

#[derive(Debug)]
pub(super) enum Phase {
    /// Invited: these endpoints of the identity are being alerted until `deadline`.
    Ringing {
        endpoints: Vec<EndpointId>,
        deadline: Instant,
    },
    /// In the call through this endpoint.
    Joined { endpoint: EndpointId },
    /// Waiting in the call's lobby through this endpoint, to be admitted or turned away.
    Lobby { endpoint: EndpointId },
    /// A bot of the service's own (the echo test), in the call with no endpoint.
    Bot,
    /// A phone, through the telephone gateway: dialled (`None`), then as far as it got.
    Phone { progress: Option<PhoneProgress> },
}

#[derive(Debug)]
pub(super) struct Stream {
    pub(super) id: StreamId,
    pub(super) available: bool,
}

#[derive(Debug)]
pub(super) struct Participant {
    pub(super) id: ParticipantId,
    pub(super) identity: String,
    pub(super) display_name: String,
    pub(super) phase: Phase,
    pub(super) media_connected: bool,
    pub(super) muted: bool,
    /// Speaking now, as the media side last said.
    pub(super) speaking: bool,
    pub(super) hold: bool,
    /// Its endpoint lost its socket, or its media connection was lost: reconnecting.
    pub(super) signal_lost: bool,
    pub(super) media_lost: bool,
    pub(super) camera: Stream,
    pub(super) screen: Stream,
    /// What the others were last told, and what the participant's own endpoint was.
    pub(super) told_state: Option<ParticipantState>,
    pub(super) told_call_state: Option<CallState>,
    /// Whether `muted`, `hold` or streams changed since the others were last told.
    pub(super) dirty: bool,
    pub(super) role: Role,
    /// What its endpoint was last told its role and capabilities depend on.
    pub(super) told_rights: Option<Rights>,
    /// When its hand was raised (the call's order counter), while it is.
    pub(super) hand: Option<u64>,
    /// When it was spotlighted, while it is.
    pub(super) spotlight: Option<u64>,
    /// It asked for data channels (opened with its media connection).
    pub(super) data: bool,
    /// The remote videos it receives (at most [`MAX_SUBSCRIPTIONS`]).
    pub(super) subscriptions: BTreeSet<StreamId>,
}

/// The remote videos one participant may receive at once: a gallery of 7 × 7 and a share with
/// room to spare (ACS's web SDK renders up to 49 in its large gallery). Each costs the SFU work
/// per frame and the client a decoder; past this a client is misbehaving.
pub const MAX_SUBSCRIPTIONS: usize = 64;

impl Participant {
    /// Its endpoint, while it is in the call through one.
    pub(super) fn endpoint(&self) -> Option<EndpointId> {
        match self.phase {
            Phase::Joined { endpoint } => Some(endpoint),
            Phase::Lobby { .. } | Phase::Ringing { .. } | Phase::Bot | Phase::Phone { .. } => None,
        }
    }

    /// Its endpoint, in the call or waiting in its lobby: the one told its own call state.
    pub(super) fn own_endpoint(&self) -> Option<EndpointId> {
        match self.phase {
            Phase::Joined { endpoint } | Phase::Lobby { endpoint } => Some(endpoint),
            Phase::Ringing { .. } | Phase::Bot | Phase::Phone { .. } => None,
        }
    }

    pub(super) fn in_lobby(&self) -> bool {
        matches!(self.phase, Phase::Lobby { .. })
    }

    /// In the call (through an endpoint, as a bot, or as an answered phone).
    pub(super) fn is_joined(&self) -> bool {
        matches!(
            self.phase,
            Phase::Joined { .. }
                | Phase::Bot
                | Phase::Phone {
                    progress: Some(PhoneProgress::Connected)
                }
        )
    }

    /// Its endpoints or its phone are being alerted.
    fn is_alerting(&self) -> bool {
        match &self.phase {
            Phase::Ringing { endpoints, .. } => !endpoints.is_empty(),
            Phase::Phone { progress } => matches!(
                progress,
                Some(PhoneProgress::Ringing | PhoneProgress::EarlyMedia)
            ),
            _ => false,
        }
    }

    pub(super) fn stream(&self, source: VideoSource) -> &Stream {
        match source {
            VideoSource::Camera => &self.camera,
            VideoSource::Screen => &self.screen,
        }
    }

    /// What the others are told of it.
    pub(super) fn info(&self) -> ParticipantInfo {
        ParticipantInfo {
            participant_id: self.id,
            identity: self.identity.clone(),
            display_name: self.display_name.clone(),
            state: self.told_state.unwrap_or(ParticipantState::Idle),
            muted: self.muted,
            speaking: self.speaking,
            streams: [
                (&self.camera, StreamKind::Video),
                (&self.screen, StreamKind::ScreenSharing),
            ]
            .into_iter()
            .map(|(s, kind)| StreamInfo {
                stream_id: s.id,
                kind,
                available: s.available,
            })
            .collect(),
            reconnecting: self.signal_lost || self.media_lost,
            role: self.role,
        }
    }

    /// The state the others should see for it now.
    pub(super) fn state(&self) -> ParticipantState {
        match self.phase {
            Phase::Ringing { ref endpoints, .. } if endpoints.is_empty() => {
                ParticipantState::Connecting
            }
            Phase::Ringing { .. } => ParticipantState::Ringing,
            Phase::Bot => ParticipantState::Connected,
            Phase::Lobby { .. } => ParticipantState::InLobby,
            Phase::Phone { progress } => match progress {
                None => ParticipantState::Connecting,
                Some(PhoneProgress::Ringing) => ParticipantState::Ringing,
                Some(PhoneProgress::EarlyMedia) => ParticipantState::EarlyMedia,
                Some(PhoneProgress::Connected) => ParticipantState::Connected,
            },
            Phase::Joined { .. } if self.hold => ParticipantState::Hold,
            Phase::Joined { .. } if self.media_connected => ParticipantState::Connected,
            Phase::Joined { .. } => ParticipantState::Connecting,
        }
    }

    /// The call state its own endpoint should see now, given the call's [`Call::summary`].
    pub(super) fn call_state(&self, call: CallSummary) -> CallState {
        if self.in_lobby() {
            return CallState::InLobby;
        }
        if self.hold {
            return CallState::LocalHold;
        }
        if !self.media_connected || !call.answered {
            return if call.early_media && !call.answered {
                CallState::EarlyMedia
            } else if call.alerting && !call.answered {
                CallState::Ringing
            } else {
                CallState::Connecting
            };
        }
        // The only other participant with an endpoint holds the call (this one does not:
        // checked above).
        let own = usize::from(self.endpoint().is_some());
        if call.with_endpoint.saturating_sub(own) == 1 && call.holding == 1 {
            return CallState::RemoteHold;
        }
        CallState::Connected
    }
}

/// What a participant's capabilities follow from: its role, and the kind of call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Rights {
    pub(super) role: Role,
    pub(super) one_to_one: bool,
    pub(super) lobby: bool,
}

#[derive(Debug)]
pub(super) struct Call {
    pub(super) kind: CallKind,
    pub(super) participants: BTreeMap<ParticipantId, Participant>,
    next_participant: u32,
    next_stream: u32,
    /// Someone other than the caller accepted (always true for group calls).
    pub(super) answered: bool,
    /// How invitations ended without an answer, to explain an unanswered call's end.
    pub(super) unanswered: Vec<EndReason>,
    /// A phone that hung up on an answered call: its reason (0/560000) ends the call for the
    /// one left, as ACS reports it.
    pub(super) phone_hung_up: Option<EndReason>,
    /// The media side's latest ranking of speakers: the others heard it as it changed, a joiner
    /// hears it with the roster.
    pub(super) dominant: Vec<ParticipantId>,
    /// A group call's maker (its organizer, by identity).
    pub(super) organizer: Option<String>,
    /// Joiners other than the organizer wait in the lobby until admitted.
    pub(super) lobby: bool,
    /// Orders raised hands and spotlights: counts up.
    order: u64,
    /// The call a blind transfer made this one to replace.
    pub(super) transfer: Option<TransferLink>,
}

/// What ties a call made by a blind transfer to the call it replaces once its target answers.
#[derive(Debug, Clone)]
pub(super) struct TransferLink {
    /// The call handed over.
    pub(super) from: CallId,
    /// Who asked for it there (told how it goes).
    pub(super) transferor: ParticipantId,
}

/// What every joined participant's call state depends on, counted once per call so that
/// deriving all of them costs O(participants), not O(participants²).
#[derive(Debug, Clone, Copy)]
pub(super) struct CallSummary {
    /// Someone answered (or it is a group call).
    answered: bool,
    /// Participants in through an endpoint, and how many of those hold the call.
    with_endpoint: usize,
    holding: usize,
    alerting: bool,
    early_media: bool,
}

impl Call {
    /// A call with no one in it yet. A group call counts as answered from the start: there is
    /// nobody to answer it.
    pub(super) fn new(kind: CallKind) -> Self {
        Call {
            kind,
            participants: BTreeMap::new(),
            next_participant: 0,
            next_stream: 0,
            answered: kind == CallKind::Group,
            unanswered: Vec::new(),
            phone_hung_up: None,
            dominant: Vec::new(),
            organizer: None,
            lobby: false,
            order: 0,
            transfer: None,
        }
    }

    /// The next place in the call's order of raised hands and spotlights.
    pub(super) fn next_order(&mut self) -> u64 {
        self.order += 1;
        self.order
    }

    /// An ad hoc call of two: muting others and spotlights do not apply.
    pub(super) fn one_to_one(&self) -> bool {
        self.kind == CallKind::Adhoc && self.participants.len() <= 2
    }

    /// Adds a participant with its two streams (camera, screen); returns its id.
    pub(super) fn add(
        &mut self,
        identity: String,
        display_name: String,
        phase: Phase,
    ) -> ParticipantId {
        let id = ParticipantId(self.next_participant);
        self.next_participant += 1;
        let camera = StreamId(self.next_stream);
        let screen = StreamId(self.next_stream + 1);
        self.next_stream += 2;
        self.participants.insert(
            id,
            Participant {
                id,
                identity,
                display_name,
                phase,
                media_connected: false,
                muted: false,
                speaking: false,
                hold: false,
                signal_lost: false,
                media_lost: false,
                camera: Stream {
                    id: camera,
                    available: false,
                },
                screen: Stream {
                    id: screen,
                    available: false,
                },
                told_state: None,
                told_call_state: None,
                dirty: true,
                role: Role::Unknown,
                hand: None,
                spotlight: None,
                data: false,
                subscriptions: BTreeSet::new(),
                told_rights: None,
            },
        );
        id
    }

    /// The endpoints of the participants in the call (not those in its lobby).
    pub(super) fn joined_endpoints(&self) -> Vec<EndpointId> {
        self.participants
            .values()
            .filter_map(Participant::endpoint)
            .collect()
    }

    pub(super) fn joined_count(&self) -> usize {
        self.participants.values().filter(|p| p.is_joined()).count()
    }

    /// Invitees not yet in the call, whether or not their endpoints ring yet.
    pub(super) fn invited_count(&self) -> usize {
        self.participants.len() - self.joined_count()
    }

    /// Whether the echo test bot is in the call.
    pub(super) fn has_bot(&self) -> bool {
        self.participants
            .values()
            .any(|p| matches!(p.phase, Phase::Bot))
    }

    pub(super) fn summary(&self) -> CallSummary {
        let mut summary = CallSummary {
            answered: self.answered,
            with_endpoint: 0,
            holding: 0,
            alerting: false,
            early_media: false,
        };
        for p in self.participants.values() {
            if p.endpoint().is_some() {
                summary.with_endpoint += 1;
                summary.holding += usize::from(p.hold);
            }
            summary.alerting |= p.is_alerting();
            summary.early_media |= matches!(
                p.phase,
                Phase::Phone {
                    progress: Some(PhoneProgress::EarlyMedia)
                }
            );
        }
        summary
    }
}

#[derive(Debug)]
pub(super) struct Endpoint {
    pub(super) identity: String,
    pub(super) display_name: String,
    /// Calls this endpoint is in, with its participant id.
    pub(super) legs: HashMap<CallId, ParticipantId>,
    /// Calls ringing here.
    pub(super) ringing: HashSet<CallId>,
    /// Lost its socket: waiting to resume until then.
    pub(super) away: Option<Instant>,
}

/// Call and group ids: 1 to 64 characters of `[A-Za-z0-9._:-]`.
pub(super) fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
}

/// The number of a phone participant's raw id (`4:+14255550123` → `+14255550123`).
pub(super) fn phone_number(identity: &str) -> Option<&str> {
    identity.strip_prefix("4:")
}
