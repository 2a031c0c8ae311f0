//! The hub on virtual time: every call and participant state transition and every end reason.
//! The harness is here; the tests are by concern: calls, roster deltas, phone participants.

mod calls;
mod features;
mod phone;
mod resume;
mod roster;

use super::{Hub, HubConfig, HubOutput};
use crate::contract::{
    EndpointId, LegKey, MediaCommand, MediaEvent, PhoneCommand, PhoneEvent, PhoneProgress,
};
use rtcall_protocol::call::StreamKind;
use rtcall_protocol::call::{CallId, CallState, EndReason, ParticipantId, ParticipantState};
use rtcall_protocol::signal::{
    ErrorKind, Event, ParticipantInfo, Reply, Request, RequestId, ServerFrame, VideoSource,
    WireError,
};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const A: EndpointId = 1;
const B: EndpointId = 2;
const B2: EndpointId = 3;
const C: EndpointId = 4;

fn user(name: &str) -> String {
    format!("8:acs:r_{name}")
}

struct Harness {
    hub: Hub,
    now: Instant,
    next_request: RequestId,
    inbox: HashMap<EndpointId, Vec<ServerFrame>>,
    media: Vec<MediaCommand>,
    phone: Vec<PhoneCommand>,
    /// Endpoints the hub let go for good.
    gone: Vec<EndpointId>,
}

impl Harness {
    fn new() -> Self {
        Self::with_config(HubConfig::default())
    }

    fn with_config(config: HubConfig) -> Self {
        // Every `8:acs:r_*` user exists except "ghost".
        let hub = Hub::new(config, Box::new(|id| id != user("ghost")));
        Harness {
            hub,
            now: Instant::now(),
            next_request: 1,
            inbox: HashMap::new(),
            media: Vec::new(),
            phone: Vec::new(),
            gone: Vec::new(),
        }
    }

    /// Connects the usual cast: A is alice, B and B2 are bob's two endpoints, C is carol.
    fn cast() -> Self {
        let mut h = Self::new();
        h.connect(A, "alice");
        h.connect(B, "bob");
        h.connect(B2, "bob");
        h.connect(C, "carol");
        h
    }

    fn connect(&mut self, endpoint: EndpointId, name: &str) {
        self.hub
            .handle_connect(self.now, endpoint, user(name), name.to_uppercase());
    }

    fn drain(&mut self) {
        while let Some(output) = self.hub.poll_output() {
            match output {
                HubOutput::Send { to, frame } => {
                    for e in to {
                        self.inbox.entry(e).or_default().push((*frame).clone());
                    }
                }
                HubOutput::Media(command) => self.media.push(command),
                HubOutput::Phone(command) => self.phone.push(command),
                HubOutput::Gone { endpoint } => self.gone.push(endpoint),
            }
        }
    }

    fn request(&mut self, endpoint: EndpointId, request: Request) -> Result<Reply, WireError> {
        let id = self.next_request;
        self.next_request += 1;
        self.hub.handle_request(self.now, endpoint, id, request);
        self.drain();
        let frames = self.inbox.entry(endpoint).or_default();
        let i = frames
            .iter()
            .position(|f| f.re == Some(id))
            .expect("every request gets a reply");
        let frame = frames.remove(i);
        match (frame.ok, frame.err) {
            (Some(ok), None) => Ok(ok),
            (None, Some(err)) => Err(err),
            other => panic!("bad reply {other:?}"),
        }
    }

    fn ok(&mut self, endpoint: EndpointId, request: Request) {
        let reply = self.request(endpoint, request);
        assert_eq!(reply, Ok(Reply::Done));
    }

    fn events(&mut self, endpoint: EndpointId) -> Vec<Event> {
        self.drain();
        self.inbox
            .remove(&endpoint)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|f| f.ev)
            .collect()
    }

    /// The call states `endpoint` was told since last asked, with end reasons.
    fn call_states(&mut self, endpoint: EndpointId) -> Vec<(CallState, Option<EndReason>)> {
        self.events(endpoint)
            .into_iter()
            .filter_map(|e| match e {
                Event::CallState {
                    state, end_reason, ..
                } => Some((state, end_reason)),
                _ => None,
            })
            .collect()
    }

    fn media_connected(&mut self, call: &str, participant: u32) {
        self.hub.handle_media(
            self.now,
            MediaEvent::Connected {
                leg: leg(call, participant),
            },
        );
        self.drain();
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        self.hub.handle_timeout(self.now);
        self.drain();
    }

    fn take_phone(&mut self) -> Vec<PhoneCommand> {
        self.drain();
        std::mem::take(&mut self.phone)
    }

    fn phone_event(&mut self, event: PhoneEvent) {
        self.hub.handle_phone(self.now, event);
        self.drain();
    }

    fn take_media(&mut self) -> Vec<MediaCommand> {
        self.drain();
        std::mem::take(&mut self.media)
    }
}

fn leg(call: &str, participant: u32) -> LegKey {
    LegKey {
        call: CallId(call.into()),
        participant: ParticipantId(participant),
    }
}

fn call(id: &str) -> CallId {
    CallId(id.into())
}

fn start(h: &mut Harness, from: EndpointId, id: &str, targets: &[&str]) {
    h.ok(
        from,
        Request::StartCall {
            call_id: call(id),
            targets: targets.iter().map(|t| user(t)).collect(),
            muted: false,
            alternate_caller_id: None,
        },
    );
}

fn accept(h: &mut Harness, at: EndpointId, id: &str) {
    h.ok(
        at,
        Request::Accept {
            call_id: call(id),
            muted: false,
        },
    );
}

fn join(h: &mut Harness, at: EndpointId, group: &str) {
    h.ok(
        at,
        Request::JoinGroup {
            group_id: group.into(),
            muted: false,
            lobby: false,
        },
    );
}

fn hang_up(h: &mut Harness, at: EndpointId, id: &str, for_everyone: bool) {
    h.ok(
        at,
        Request::HangUp {
            call_id: call(id),
            for_everyone,
        },
    );
}

/// Participant states (by participant id) in the roster frames an endpoint was sent, in order;
/// removals appear as `Disconnected` with their reason.
fn roster(events: &[Event]) -> Vec<(u32, ParticipantState, Option<EndReason>)> {
    let mut seen = Vec::new();
    for e in events {
        if let Event::Participants {
            upsert, removed, ..
        } = e
        {
            seen.extend(upsert.iter().map(|p| (p.participant_id.0, p.state, None)));
            seen.extend(removed.iter().map(|r| {
                (
                    r.participant_id.0,
                    ParticipantState::Disconnected,
                    Some(r.end_reason),
                )
            }));
        }
    }
    seen
}

/// `at` sees participant `pid` of `call` leave abruptly, and its media leg closes.
fn left_abruptly(h: &mut Harness, at: EndpointId, call: &str, pid: u32) {
    assert_eq!(
        roster(&h.events(at)),
        [(
            pid,
            ParticipantState::Disconnected,
            Some(EndReason::LEFT_ABRUPTLY)
        )]
    );
    assert!(h.take_media().contains(&MediaCommand::Close {
        leg: leg(call, pid)
    }));
}

/// The call states among `events`, in order.
fn states_in(events: &[Event]) -> Vec<CallState> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::CallState { state, .. } => Some(*state),
            _ => None,
        })
        .collect()
}

fn ended(reason: EndReason) -> Vec<(CallState, Option<EndReason>)> {
    vec![
        (CallState::Disconnecting, None),
        (CallState::Disconnected, Some(reason)),
    ]
}

fn incoming_ended(events: &[Event]) -> Vec<EndReason> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::IncomingCallEnded { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect()
}
