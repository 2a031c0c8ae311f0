//! Calls: 1:1 and group, ringing, answering, leaving, holding, media events, bad requests.

use super::*;

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
    h.hub.handle_gone(h.now, B);
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
            lobby: false,
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
                lobby: false,
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
fn an_endpoint_gone_for_good_leaves_with_0_4521() {
    let mut h = Harness::cast();
    join(&mut h, A, "g1");
    join(&mut h, B, "g1");
    join(&mut h, C, "g1");
    h.events(A);
    h.hub.handle_gone(h.now, C);
    left_abruptly(&mut h, A, "g1", 2);
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
                resume: None,
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
                lobby: false,
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
