//! The hub on virtual time: every call and participant state transition and every end reason.

use super::*;
use std::collections::HashMap;

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
                        self.inbox.entry(e).or_default().push(frame.clone());
                    }
                }
                HubOutput::Media(command) => self.media.push(command),
                HubOutput::Phone(command) => self.phone.push(command),
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

// ---- 1:1 calls ----

#[test]
fn a_one_to_one_call_goes_through_every_state_on_both_sides() {
    let mut h = Harness::cast();
    start(&mut h, A, "c1", &["bob"]);
    let events = h.events(A);
    let states = states_in(&events);
    assert_eq!(states, [CallState::Connecting, CallState::Ringing]);
    // Bob appears as Connecting, then Ringing.
    let bob: Vec<_> = roster(&events).into_iter().filter(|p| p.0 == 1).collect();
    assert_eq!(
        bob,
        [
            (1, ParticipantState::Connecting, None),
            (1, ParticipantState::Ringing, None)
        ]
    );
    // Both of Bob's endpoints ring, with Alice's id and name.
    for e in [B, B2] {
        assert_eq!(
            h.events(e),
            [Event::IncomingCall {
                call_id: call("c1"),
                caller: user("alice"),
                caller_display_name: "ALICE".into(),
            }]
        );
    }
    assert!(h.events(C).is_empty());
    h.media_connected("c1", 0);
    assert!(h.call_states(A).is_empty(), "still ringing until answered");

    accept(&mut h, B, "c1");
    assert_eq!(
        incoming_ended(&h.events(B2)),
        [EndReason::ANSWERED_ELSEWHERE]
    );
    assert_eq!(h.call_states(B), [(CallState::Connecting, None)]);
    assert_eq!(h.call_states(A), [(CallState::Connected, None)]);
    h.media_connected("c1", 1);
    assert_eq!(h.call_states(B), [(CallState::Connected, None)]);
    let seen = roster(&h.events(A));
    assert_eq!(seen.last(), Some(&(1, ParticipantState::Connected, None)));

    hang_up(&mut h, A, "c1", false);
    assert_eq!(h.call_states(A), ended(EndReason::HUNG_UP));
    assert_eq!(h.call_states(B), ended(EndReason::HUNG_UP));
    assert_eq!(h.hub.call_count(), 0);
}

#[test]
fn the_callee_declines() {
    let mut h = Harness::cast();
    start(&mut h, A, "c1", &["bob"]);
    h.events(A);
    h.ok(
        B,
        Request::Reject {
            call_id: call("c1"),
        },
    );
    assert_eq!(h.call_states(A), ended(EndReason::DECLINED));
    assert_eq!(incoming_ended(&h.events(B2)), [EndReason::DECLINED]);
    assert_eq!(h.hub.call_count(), 0);
}

#[test]
fn the_caller_cancels() {
    let mut h = Harness::cast();
    start(&mut h, A, "c1", &["bob"]);
    h.events(A);
    h.events(B);
    hang_up(&mut h, A, "c1", false);
    assert_eq!(h.call_states(A), ended(EndReason::HUNG_UP));
    assert_eq!(incoming_ended(&h.events(B)), [EndReason::CANCELLED]);
    assert_eq!(incoming_ended(&h.events(B2)), [EndReason::CANCELLED]);
    let err = h.request(
        B,
        Request::Accept {
            call_id: call("c1"),
            muted: false,
        },
    );
    assert!(err.unwrap_err().is(ErrorKind::CallNotFound));
}

#[test]
fn nobody_answers_in_time() {
    let mut h = Harness::with_config(HubConfig {
        ring_timeout: Duration::from_secs(30),
        ..HubConfig::default()
    });
    h.connect(A, "alice");
    h.connect(B, "bob");
    start(&mut h, A, "c1", &["bob"]);
    h.events(A);
    assert_eq!(h.hub.poll_timeout(), Some(h.now + Duration::from_secs(30)));
    h.advance(Duration::from_secs(29));
    assert!(h.call_states(A).is_empty());
    h.advance(Duration::from_secs(1));
    assert_eq!(h.call_states(A), ended(EndReason::NOT_ANSWERED));
    assert_eq!(incoming_ended(&h.events(B)), [EndReason::NOT_ANSWERED]);
    assert_eq!(h.hub.poll_timeout(), None);
}

#[test]
fn a_callee_with_no_endpoint_or_no_account() {
    let mut h = Harness::cast();
    start(&mut h, A, "c1", &["dave"]);
    assert_eq!(
        h.call_states(A),
        [
            (CallState::Connecting, None),
            (CallState::Disconnecting, None),
            (CallState::Disconnected, Some(EndReason::NO_ENDPOINT))
        ]
    );
    start(&mut h, A, "c2", &["ghost"]);
    assert_eq!(
        h.call_states(A).last(),
        Some(&(CallState::Disconnected, Some(EndReason::UNKNOWN_USER)))
    );
}

#[test]
fn the_last_ringing_endpoint_vanishing_ends_the_invitation() {
    let mut h = Harness::new();
    h.connect(A, "alice");
    h.connect(B, "bob");
    start(&mut h, A, "c1", &["bob"]);
    h.events(A);
    h.hub.handle_disconnect(h.now, B);
    assert_eq!(h.call_states(A), ended(EndReason::NO_ENDPOINT));
}

// ---- group calls ----

#[test]
fn group_calls_are_created_by_the_first_join_and_last_while_anyone_is_in() {
    let mut h = Harness::cast();
    join(&mut h, A, "g1");
    assert_eq!(h.call_states(A), [(CallState::Connecting, None)]);
    h.media_connected("g1", 0);
    assert_eq!(h.call_states(A), [(CallState::Connected, None)]);

    join(&mut h, B, "g1");
    let b_events = h.events(B);
    // One snapshot with Alice, then its own entry.
    let first = &b_events[0];
    assert!(
        matches!(first, Event::Participants { upsert, .. } if upsert.len() == 1 && upsert[0].participant_id == ParticipantId(0)),
        "{first:?}"
    );
    assert_eq!(
        roster(&h.events(A)),
        [(1, ParticipantState::Connecting, None)]
    );
    let again = h.request(
        B,
        Request::JoinGroup {
            group_id: "g1".into(),
            muted: false,
        },
    );
    assert!(again.unwrap_err().is(ErrorKind::WrongState));

    hang_up(&mut h, A, "g1", false);
    assert_eq!(h.call_states(A), ended(EndReason::HUNG_UP));
    assert_eq!(
        roster(&h.events(B)).last(),
        Some(&(0, ParticipantState::Disconnected, Some(EndReason::HUNG_UP)))
    );
    assert_eq!(h.hub.call_count(), 1, "Bob is still in the group call");
    hang_up(&mut h, B, "g1", false);
    assert_eq!(h.hub.call_count(), 0);
}

#[test]
fn calling_several_users_rings_them_all_and_survives_one_declining() {
    let mut h = Harness::cast();
    start(&mut h, A, "c1", &["bob", "carol"]);
    for e in [B, B2, C] {
        assert!(matches!(h.events(e)[..], [Event::IncomingCall { .. }]));
    }
    h.media_connected("c1", 0);
    h.events(A);
    accept(&mut h, C, "c1");
    assert_eq!(h.call_states(A), [(CallState::Connected, None)]);
    h.ok(
        B2,
        Request::Reject {
            call_id: call("c1"),
        },
    );
    assert_eq!(
        roster(&h.events(A)).last(),
        Some(&(1, ParticipantState::Disconnected, Some(EndReason::DECLINED)))
    );
    assert!(h.call_states(A).is_empty(), "the call goes on with Carol");
    assert_eq!(h.hub.call_count(), 1);
}

#[test]
fn everyone_declining_ends_the_call_with_0_5003() {
    let mut h = Harness::cast();
    start(&mut h, A, "c1", &["bob", "carol"]);
    h.events(A);
    h.ok(
        B,
        Request::Reject {
            call_id: call("c1"),
        },
    );
    h.ok(
        C,
        Request::Reject {
            call_id: call("c1"),
        },
    );
    assert_eq!(h.call_states(A), ended(EndReason::ALL_DECLINED));
}

#[test]
fn adding_a_participant_promotes_a_one_to_one_call_without_touching_media() {
    let mut h = Harness::cast();
    start(&mut h, A, "c1", &["bob"]);
    accept(&mut h, B, "c1");
    h.media_connected("c1", 0);
    h.media_connected("c1", 1);
    h.events(A);
    h.events(B);
    h.take_media();

    h.ok(
        B,
        Request::AddParticipant {
            call_id: call("c1"),
            target: user("carol"),
            alternate_caller_id: None,
        },
    );
    let incoming = h.events(C);
    assert!(
        matches!(&incoming[..], [Event::IncomingCall { caller, .. }] if *caller == user("alice")),
        "the call is Alice's: {incoming:?}"
    );
    accept(&mut h, C, "c1");
    let media = h.take_media();
    assert_eq!(
        media,
        [MediaCommand::Open { leg: leg("c1", 2) }],
        "no one else's media changes"
    );
    for e in [A, B] {
        assert!(roster(&h.events(e)).contains(&(2, ParticipantState::Connecting, None)));
    }
    // Carol got the others on joining (herself she learns with her participant id).
    let snapshot = h.events(C);
    assert!(
        matches!(&snapshot[0], Event::Participants { upsert, .. } if upsert.iter().map(|p| p.participant_id.0).collect::<Vec<_>>() == [0, 1]),
        "{snapshot:?}"
    );
    // With three in the call, one leaving does not end it.
    hang_up(&mut h, A, "c1", false);
    assert!(h.call_states(B).is_empty());
}

#[test]
fn removing_a_participant_gives_5300_to_them_and_5000_to_the_rest() {
    let mut h = Harness::cast();
    join(&mut h, A, "g1");
    join(&mut h, B, "g1");
    join(&mut h, C, "g1");
    h.events(A);
    h.events(B);
    h.events(C);
    let missing = h.request(
        A,
        Request::RemoveParticipant {
            call_id: call("g1"),
            target: user("zed"),
        },
    );
    assert!(missing.unwrap_err().is(ErrorKind::ParticipantNotFound));
    h.ok(
        A,
        Request::RemoveParticipant {
            call_id: call("g1"),
            target: user("carol"),
        },
    );
    assert_eq!(h.call_states(C), ended(EndReason::REMOVED_BY_OTHER));
    for e in [A, B] {
        assert_eq!(
            roster(&h.events(e)),
            [(2, ParticipantState::Disconnected, Some(EndReason::REMOVED))]
        );
    }
    assert!(h
        .take_media()
        .contains(&MediaCommand::Close { leg: leg("g1", 2) }));
}

#[test]
fn hanging_up_for_everyone_ends_it_with_0_4097() {
    let mut h = Harness::cast();
    join(&mut h, A, "g1");
    join(&mut h, B, "g1");
    join(&mut h, C, "g1");
    h.events(A);
    h.events(B);
    h.events(C);
    hang_up(&mut h, A, "g1", true);
    assert_eq!(h.call_states(A), ended(EndReason::HUNG_UP));
    for e in [B, C] {
        assert_eq!(h.call_states(e), ended(EndReason::ENDED_FOR_EVERYONE));
    }
    assert_eq!(h.hub.call_count(), 0);
}

#[test]
fn the_participant_over_the_limit_gets_a_clear_error() {
    let mut h = Harness::with_config(HubConfig {
        max_participants: 3,
        ..HubConfig::default()
    });
    for (e, name) in [(A, "alice"), (B, "bob"), (B2, "bob"), (C, "carol")] {
        h.connect(e, name);
    }
    join(&mut h, A, "g1");
    join(&mut h, B, "g1");
    join(&mut h, B2, "g1");
    let full = h
        .request(
            C,
            Request::JoinGroup {
                group_id: "g1".into(),
                muted: false,
            },
        )
        .unwrap_err();
    assert!(full.is(ErrorKind::CallFull));
    assert!(full.message.contains('3'), "{}", full.message);
    let full = h
        .request(
            A,
            Request::AddParticipant {
                call_id: call("g1"),
                target: user("carol"),
                alternate_caller_id: None,
            },
        )
        .unwrap_err();
    assert!(full.is(ErrorKind::CallFull));
}

#[test]
fn roster_changes_are_deltas() {
    let mut h = Harness::new();
    let n = 30;
    for e in 0..n {
        h.connect(e, &format!("u{e}"));
        join(&mut h, e, "big");
        h.media_connected("big", e as u32);
    }
    for e in 0..n {
        h.events(e);
    }
    h.connect(n, "newcomer");
    join(&mut h, n, "big");
    // Everyone already in gets exactly one frame with one participant.
    for e in 0..n {
        let events = h.events(e);
        assert!(
            matches!(&events[..], [Event::Participants { upsert, removed, .. }] if upsert.len() == 1 && removed.is_empty()),
            "{events:?}"
        );
    }
    // The newcomer gets one snapshot of everyone, then its own entry.
    let events = h.events(n);
    let sizes: Vec<usize> = events
        .iter()
        .filter_map(|e| match e {
            Event::Participants { upsert, .. } => Some(upsert.len()),
            _ => None,
        })
        .collect();
    assert_eq!(sizes, [n as usize, 1]);
}

// ---- per-participant state ----

#[test]
fn hold_is_local_to_the_holder_and_remote_to_the_other() {
    let mut h = Harness::cast();
    start(&mut h, A, "c1", &["bob"]);
    accept(&mut h, B, "c1");
    h.media_connected("c1", 0);
    h.media_connected("c1", 1);
    h.events(A);
    h.events(B);
    h.take_media();

    h.ok(
        A,
        Request::SetHold {
            call_id: call("c1"),
            hold: true,
        },
    );
    assert_eq!(
        h.take_media(),
        [MediaCommand::Hold {
            leg: leg("c1", 0),
            hold: true
        }]
    );
    let a = h.events(A);
    let b = h.events(B);
    assert_eq!(
        a.iter().find_map(|e| match e {
            Event::CallState { state, .. } => Some(*state),
            _ => None,
        }),
        Some(CallState::LocalHold)
    );
    assert!(b.iter().any(|e| matches!(
        e,
        Event::CallState {
            state: CallState::RemoteHold,
            ..
        }
    )));
    assert!(roster(&b).contains(&(0, ParticipantState::Hold, None)));

    h.ok(
        A,
        Request::SetHold {
            call_id: call("c1"),
            hold: false,
        },
    );
    assert_eq!(h.call_states(A), [(CallState::Connected, None)]);
    assert_eq!(h.call_states(B), [(CallState::Connected, None)]);
}

#[test]
fn mute_and_video_reach_everyone() {
    let mut h = Harness::cast();
    join(&mut h, A, "g1");
    join(&mut h, B, "g1");
    h.events(B);
    h.ok(
        A,
        Request::SetMuted {
            call_id: call("g1"),
            muted: true,
        },
    );
    h.ok(
        A,
        Request::SetVideo {
            call_id: call("g1"),
            source: VideoSource::Screen,
            on: true,
        },
    );
    let infos: Vec<ParticipantInfo> = h
        .events(B)
        .into_iter()
        .flat_map(|e| match e {
            Event::Participants { upsert, .. } => upsert,
            _ => Vec::new(),
        })
        .collect();
    assert!(infos[0].muted);
    let latest = infos.last().unwrap();
    let screen = latest
        .streams
        .iter()
        .find(|s| s.kind == StreamKind::ScreenSharing)
        .unwrap();
    assert!(screen.available);
    assert!(latest
        .streams
        .iter()
        .any(|s| s.kind == StreamKind::Video && !s.available));

    // Subscribing to it reaches the SFU; to a stream of one's own or an unknown one does not.
    h.take_media();
    h.ok(
        B,
        Request::Subscribe {
            call_id: call("g1"),
            stream_id: screen.stream_id,
            max_height: 1080,
        },
    );
    assert_eq!(
        h.take_media(),
        [MediaCommand::Subscribe {
            leg: leg("g1", 1),
            source: ParticipantId(0),
            video: VideoSource::Screen,
            stream_id: screen.stream_id,
            max_height: 1080,
        }]
    );
    let own = h.request(
        A,
        Request::Subscribe {
            call_id: call("g1"),
            stream_id: screen.stream_id,
            max_height: 1080,
        },
    );
    assert!(own.unwrap_err().is(ErrorKind::InvalidArgument));
}

#[test]
fn a_vanished_endpoint_leaves_with_0_4521() {
    let mut h = Harness::cast();
    join(&mut h, A, "g1");
    join(&mut h, B, "g1");
    join(&mut h, C, "g1");
    h.events(A);
    h.hub.handle_disconnect(h.now, C);
    assert_eq!(
        roster(&h.events(A)),
        [(
            2,
            ParticipantState::Disconnected,
            Some(EndReason::LEFT_ABRUPTLY)
        )]
    );
    assert!(h
        .take_media()
        .contains(&MediaCommand::Close { leg: leg("g1", 2) }));
}

#[test]
fn failed_media_ends_the_leg() {
    let mut h = Harness::cast();
    join(&mut h, A, "g1");
    h.events(A);
    h.hub
        .handle_media(h.now, MediaEvent::Failed { leg: leg("g1", 0) });
    assert_eq!(h.call_states(A), ended(EndReason::MEDIA_FAILED));
}

#[test]
fn media_events_reach_the_call() {
    let mut h = Harness::cast();
    join(&mut h, A, "g1");
    join(&mut h, B, "g1");
    h.events(A);
    h.events(B);
    h.hub.handle_media(
        h.now,
        MediaEvent::Offer {
            leg: leg("g1", 1),
            version: 3,
            sdp: "v=0".into(),
            media: Vec::new(),
        },
    );
    assert!(h.events(A).is_empty());
    assert!(matches!(
        &h.events(B)[..],
        [Event::SdpOffer { version: 3, .. }]
    ));
    h.hub.handle_media(
        h.now,
        MediaEvent::DominantSpeakers {
            call: call("g1"),
            ranked: vec![ParticipantId(1), ParticipantId(0)],
        },
    );
    h.hub.handle_media(
        h.now,
        MediaEvent::Speaking {
            leg: leg("g1", 1),
            speaking: true,
        },
    );
    for e in [A, B] {
        let events = h.events(e);
        assert!(
            matches!(&events[..], [Event::DominantSpeakers { ranked, .. }, Event::Speaking { speaking: true, .. }] if ranked[0] == ParticipantId(1))
        );
    }
}

#[test]
fn a_joiner_hears_its_own_id_before_the_roster_and_who_is_speaking_already() {
    let mut h = Harness::cast();
    start(&mut h, A, "c1", &["bob"]);
    h.media_connected("c1", 0);
    h.hub.handle_media(
        h.now,
        MediaEvent::Speaking {
            leg: leg("c1", 0),
            speaking: true,
        },
    );
    h.events(B);
    accept(&mut h, B, "c1");
    let events = h.events(B);
    // Bob is participant 1; no roster frame lists him before he knows that id is his.
    let own_id_at = events
        .iter()
        .position(|e| {
            matches!(
                e,
                Event::CallState {
                    participant_id: Some(ParticipantId(1)),
                    ..
                }
            )
        })
        .expect("bob is told his participant id");
    let listed_at = events.iter().position(|e| {
        matches!(e, Event::Participants { upsert, .. } if upsert.iter().any(|p| p.participant_id == ParticipantId(1)))
    });
    assert!(listed_at.is_none_or(|at| at > own_id_at), "{events:?}");
    // Alice was already speaking: the roster says so, with no Speaking event to wait for.
    let alice = events
        .iter()
        .find_map(|e| match e {
            Event::Participants { upsert, .. } => {
                upsert.iter().find(|p| p.participant_id == ParticipantId(0))
            }
            _ => None,
        })
        .expect("bob is told about alice");
    assert!(alice.speaking);
}

// ---- bad input ----

#[test]
fn requests_out_of_place_get_typed_errors() {
    let mut h = Harness::cast();
    let bad = [
        (
            A,
            Request::Hello {
                token: "t".into(),
                display_name: String::new(),
                version: 1,
            },
            ErrorKind::NotAuthenticated,
        ),
        (
            A,
            Request::HangUp {
                call_id: call("nope"),
                for_everyone: false,
            },
            ErrorKind::CallNotFound,
        ),
        (
            A,
            Request::Accept {
                call_id: call("nope"),
                muted: false,
            },
            ErrorKind::CallNotFound,
        ),
        (
            A,
            Request::StartCall {
                call_id: call(""),
                targets: vec![user("bob")],
                muted: false,
                alternate_caller_id: None,
            },
            ErrorKind::InvalidArgument,
        ),
        (
            A,
            Request::StartCall {
                call_id: call("has space"),
                targets: vec![user("bob")],
                muted: false,
                alternate_caller_id: None,
            },
            ErrorKind::InvalidArgument,
        ),
        (
            A,
            Request::StartCall {
                call_id: call("x"),
                targets: vec![],
                muted: false,
                alternate_caller_id: None,
            },
            ErrorKind::InvalidArgument,
        ),
        (
            A,
            Request::StartCall {
                call_id: call("x"),
                targets: vec!["4:+15551234".into()],
                muted: false,
                alternate_caller_id: None,
            },
            // No trunk in this deployment.
            ErrorKind::PhoneUnavailable,
        ),
        (
            A,
            Request::JoinGroup {
                group_id: "x".repeat(65),
                muted: false,
            },
            ErrorKind::InvalidArgument,
        ),
        (
            A,
            Request::SetMuted {
                call_id: call("nope"),
                muted: true,
            },
            ErrorKind::CallNotFound,
        ),
        (
            A,
            Request::SdpAnswer {
                call_id: call("nope"),
                version: 1,
                sdp: String::new(),
            },
            ErrorKind::CallNotFound,
        ),
    ];
    for (endpoint, request, kind) in bad {
        let err = h.request(endpoint, request.clone()).unwrap_err();
        assert!(err.is(kind), "{request:?} gave {err:?}");
    }
    start(&mut h, A, "c1", &["bob"]);
    let again = h.request(
        C,
        Request::StartCall {
            call_id: call("c1"),
            targets: vec![user("bob")],
            muted: false,
            alternate_caller_id: None,
        },
    );
    assert!(again.unwrap_err().is(ErrorKind::CallExists));
    accept(&mut h, B, "c1");
    let twice = h.request(
        B2,
        Request::Accept {
            call_id: call("c1"),
            muted: false,
        },
    );
    assert!(twice.unwrap_err().is(ErrorKind::CallNotFound));
    // None of this disturbed the call.
    assert_eq!(h.hub.call_count(), 1);
    assert_eq!(h.request(A, Request::Ping), Ok(Reply::Pong));
}

// ---- phone numbers, through the telephone gateway ----

const OWNED: &str = "+14255550100";
const PHONE: &str = "4:+14255550123";

/// A hub whose deployment owns [`OWNED`], with alice connected.
fn phone_cast() -> Harness {
    let mut h = Harness::with_config(HubConfig {
        phone_numbers: vec![OWNED.into()],
        ..HubConfig::default()
    });
    h.connect(A, "alice");
    h.connect(B, "bob");
    h
}

fn call_phone(h: &mut Harness, id: &str, caller_id: Option<&str>) -> Result<Reply, WireError> {
    h.request(
        A,
        Request::StartCall {
            call_id: call(id),
            targets: vec![PHONE.into()],
            muted: false,
            alternate_caller_id: caller_id.map(Into::into),
        },
    )
}

fn progress(h: &mut Harness, id: &str, progress: PhoneProgress) {
    h.phone_event(PhoneEvent::Progress {
        leg: leg(id, 1),
        progress,
    });
}

#[test]
fn a_phone_is_dialled_rings_plays_early_media_answers_and_hangs_up_with_acs_codes() {
    let mut h = phone_cast();
    assert_eq!(call_phone(&mut h, "p", Some(OWNED)), Ok(Reply::Done));
    assert_eq!(
        h.take_phone(),
        [PhoneCommand::Dial {
            leg: leg("p", 1),
            number: "+14255550123".into(),
            caller_id: OWNED.into(),
        }]
    );
    h.media_connected("p", 0);
    progress(&mut h, "p", PhoneProgress::Ringing);
    progress(&mut h, "p", PhoneProgress::EarlyMedia);
    progress(&mut h, "p", PhoneProgress::Connected);
    let events = h.events(A);
    let phone_roster: Vec<_> = roster(&events).into_iter().filter(|p| p.0 == 1).collect();
    assert_eq!(
        phone_roster,
        [
            (1, ParticipantState::Connecting, None),
            (1, ParticipantState::Ringing, None),
            (1, ParticipantState::EarlyMedia, None),
            (1, ParticipantState::Connected, None),
        ]
    );
    let states = states_in(&events);
    assert_eq!(
        states,
        [
            CallState::Connecting,
            CallState::Ringing,
            CallState::EarlyMedia,
            CallState::Connected
        ]
    );
    let identity = events.iter().find_map(|e| match e {
        Event::Participants { upsert, .. } => upsert
            .iter()
            .find(|p| p.participant_id.0 == 1)
            .map(|p| (p.identity.clone(), p.display_name.clone())),
        _ => None,
    });
    assert_eq!(identity, Some((PHONE.into(), "+14255550123".into())));

    // The phone hangs up: it leaves with 0/560000, and so does the call for alice.
    h.phone_event(PhoneEvent::Ended {
        leg: leg("p", 1),
        reason: EndReason::PHONE_HUNG_UP,
    });
    let events = h.events(A);
    assert_eq!(
        roster(&events),
        [(
            1,
            ParticipantState::Disconnected,
            Some(EndReason {
                code: 0,
                sub_code: 560_000
            })
        )]
    );
    assert!(events.iter().any(|e| matches!(
        e,
        Event::CallState { state: CallState::Disconnected, end_reason: Some(r), .. } if *r == EndReason::PHONE_HUNG_UP
    )));
    // The gateway is told too (it ignores a hang-up for a call it already ended).
    assert_eq!(h.take_phone(), [PhoneCommand::HangUp { leg: leg("p", 1) }]);
}

#[test]
fn a_busy_phone_ends_the_call_with_486_560486() {
    let mut h = phone_cast();
    call_phone(&mut h, "p", Some(OWNED)).unwrap();
    h.media_connected("p", 0);
    h.events(A);
    h.phone_event(PhoneEvent::Ended {
        leg: leg("p", 1),
        reason: EndReason::phone(486),
    });
    assert_eq!(h.call_states(A), ended(EndReason::phone(486)));
    assert_eq!(
        EndReason::phone(486),
        EndReason {
            code: 486,
            sub_code: 560_486
        }
    );
}

#[test]
fn hanging_up_or_removing_a_phone_tells_the_gateway() {
    let mut h = phone_cast();
    join(&mut h, A, "g");
    join(&mut h, B, "g");
    h.ok(
        A,
        Request::AddParticipant {
            call_id: call("g"),
            target: PHONE.into(),
            alternate_caller_id: Some(OWNED.into()),
        },
    );
    let [PhoneCommand::Dial { leg: phone, .. }] = &h.take_phone()[..] else {
        panic!("one dial");
    };
    let phone = phone.clone();
    h.phone_event(PhoneEvent::Progress {
        leg: phone.clone(),
        progress: PhoneProgress::Connected,
    });
    h.ok(
        B,
        Request::RemoveParticipant {
            call_id: call("g"),
            target: PHONE.into(),
        },
    );
    assert_eq!(h.take_phone(), [PhoneCommand::HangUp { leg: phone }]);
    // The group call goes on without it.
    assert_eq!(
        h.call_states(A).last().map(|s| s.0),
        Some(CallState::Connecting)
    );

    // A phone still ringing when the caller hangs up is hung up too.
    call_phone(&mut h, "p", Some(OWNED)).unwrap();
    h.take_phone();
    hang_up(&mut h, A, "p", false);
    assert_eq!(h.take_phone(), [PhoneCommand::HangUp { leg: leg("p", 1) }]);
}

#[test]
fn calling_a_phone_needs_a_trunk_a_valid_number_and_an_owned_caller_id() {
    let mut h = phone_cast();
    let refused = |r: Result<Reply, WireError>| r.unwrap_err().sub_code;
    assert_eq!(refused(call_phone(&mut h, "p1", None)), 40003);
    assert_eq!(
        refused(call_phone(&mut h, "p2", Some("+14255559999"))),
        40003
    );
    let bad = h.request(
        A,
        Request::StartCall {
            call_id: call("p3"),
            targets: vec!["4:+1-425".into()],
            muted: false,
            alternate_caller_id: Some(OWNED.into()),
        },
    );
    assert_eq!(refused(bad), 40003);
    assert!(h.take_phone().is_empty(), "nothing dialled");

    let mut no_trunk = Harness::cast();
    assert_eq!(refused(call_phone(&mut no_trunk, "p4", Some(OWNED))), 40303);
}
