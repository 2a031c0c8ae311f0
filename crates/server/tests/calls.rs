//! Calls through the real server with native clients: real WebSocket signaling and real WebRTC
//! media over UDP (str0m on both ends). Each test checks that media actually flowed.

mod common;

use common::{data_dir, TestServer};
use rtcall_loadgen::scenario::{group, new_call_id, talking_pair};
use rtcall_loadgen::{Client, Receiving, Sending};
use rtcall_protocol::call::{CallId, CallState, EndReason, ParticipantState};
use rtcall_protocol::signal::{Event, Request};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_to_one_call_carries_audio_and_video_both_ways() {
    let dir = data_dir();
    let server = TestServer::start(common::SERVER_BIN, dir.path(), &[]);
    let mut alice = Client::connect(&server.url, "Alice", 1).await;
    let mut bob = Client::connect(&server.url, "Bob", 2).await;
    let call = new_call_id();
    alice
        .ok(Request::StartCall {
            call_id: call.clone(),
            targets: vec![bob.identity.clone()],
            muted: false,
            alternate_caller_id: None,
        })
        .await;
    alice.wait_call_state(&call, CallState::Connecting).await;
    let (incoming, caller) = bob.wait_incoming().await;
    assert_eq!(
        (&incoming, caller.as_str()),
        (&call, alice.identity.as_str())
    );
    alice.wait_call_state(&call, CallState::Ringing).await;
    bob.ok(Request::Accept {
        call_id: call.clone(),
        muted: false,
    })
    .await;
    bob.wait_call_state(&call, CallState::Connected).await;
    alice.wait_call_state(&call, CallState::Connected).await;

    alice.start_camera(&call, Some(-20)).await;
    bob.start_camera(&call, Some(-25)).await;
    let alice_in_bob = bob
        .wait_participant(&call, &alice.identity, ParticipantState::Connected)
        .await;
    let bob_in_alice = alice
        .wait_participant(&call, &bob.identity, ParticipantState::Connected)
        .await;
    let alice_camera = bob.wait_camera(&call, alice_in_bob).await;
    let bob_camera = alice.wait_camera(&call, bob_in_alice).await;
    bob.ok(Request::Subscribe {
        call_id: call.clone(),
        stream_id: alice_camera,
        max_height: 720,
    })
    .await;
    alice
        .ok(Request::Subscribe {
            call_id: call.clone(),
            stream_id: bob_camera,
            max_height: 720,
        })
        .await;

    alice
        .wait_media(&call, "audio from Bob", |m| m.audio_from_tag(2) >= 50)
        .await;
    bob.wait_media(&call, "audio from Alice", |m| m.audio_from_tag(1) >= 50)
        .await;
    alice
        .wait_media(&call, "video from Bob", |m| {
            m.video_from_tag(2).0 >= 10 && m.video_from_tag(2).1 >= 1
        })
        .await;
    bob.wait_media(&call, "video from Alice", |m| {
        m.video_from_tag(1).0 >= 10 && m.video_from_tag(1).1 >= 1
    })
    .await;

    assert_eq!(alice.hang_up(&call).await, Some(EndReason::HUNG_UP));
    assert_eq!(
        bob.wait_call_state(&call, CallState::Disconnected).await,
        Some(EndReason::HUNG_UP)
    );
}

/// `n` clients (tags 1..=n) in one group call, each Connected.
async fn group_of(server: &TestServer, n: u16) -> (CallId, Vec<Client>) {
    let call = new_call_id();
    let clients = group(&server.url, &call, 1..=n, Receiving::Decode).await;
    (call, clients)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_twenty_person_group_call_hears_its_speakers_and_ranks_them() {
    let dir = data_dir();
    let server = TestServer::start(common::SERVER_BIN, dir.path(), &[]);
    let (call, mut clients) = group_of(&server, 20).await;
    // Three speak; everyone else sends silence (level -127), as a browser with an open mic does.
    for (i, client) in clients.iter().enumerate() {
        let level = if i < 3 { -20 } else { -127 };
        client.send(&call, Sending::audio(level));
    }
    for listener in &clients[3..] {
        for speaker in 1..=3 {
            listener
                .wait_media(&call, &format!("audio from speaker {speaker}"), |m| {
                    m.audio_from_tag(speaker) >= 25
                })
                .await;
        }
    }
    // The dominant speakers are exactly the three who speak.
    let identities: Vec<String> = clients.iter().map(|c| c.identity.clone()).collect();
    let observer = &mut clients[19];
    let mut speaker_ids = Vec::new();
    for identity in &identities[..4] {
        speaker_ids.push(
            observer
                .wait_participant(&call, identity, ParticipantState::Connected)
                .await,
        );
    }
    let first_three = speaker_ids[..3].to_vec();
    observer
        .wait_event(|e| match e {
            Event::DominantSpeakers { ranked, .. }
                if ranked.len() == 3 && first_three.iter().all(|id| ranked.contains(id)) =>
            {
                Some(())
            }
            _ => None,
        })
        .await;
    // The first speaker stops; a fourth, louder one starts and takes the lead.
    clients[0].send(&call, Sending::audio(-127));
    clients[3].send(&call, Sending::audio(-5));
    let newcomer = speaker_ids[3];
    clients[19]
        .wait_event(|e| match e {
            Event::DominantSpeakers { ranked, .. } if ranked.first() == Some(&newcomer) => Some(()),
            _ => None,
        })
        .await;
    // And is heard.
    clients[10]
        .wait_media(&call, "audio from the new speaker", |m| {
            m.audio_from_tag(4) >= 25
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ringing_every_endpoint_and_answering_on_one() {
    let dir = data_dir();
    let server = TestServer::start(common::SERVER_BIN, dir.path(), &[]);
    let mut alice = Client::connect(&server.url, "Alice", 1).await;
    let (bob_id, bob_token) = rtcall_loadgen::client::demo_identity(&server.url).await;
    let mut bob_phone = Client::connect_as(&server.url, &bob_id, &bob_token, "Bob", 2).await;
    let mut bob_laptop = Client::connect_as(&server.url, &bob_id, &bob_token, "Bob", 3).await;
    let call = new_call_id();
    alice
        .ok(Request::StartCall {
            call_id: call.clone(),
            targets: vec![bob_id.clone()],
            muted: false,
            alternate_caller_id: None,
        })
        .await;
    bob_phone.wait_incoming().await;
    bob_laptop.wait_incoming().await;
    bob_laptop
        .ok(Request::Accept {
            call_id: call.clone(),
            muted: false,
        })
        .await;
    let reason = bob_phone
        .wait_event(|e| match e {
            Event::IncomingCallEnded { reason, .. } => Some(*reason),
            _ => None,
        })
        .await;
    assert_eq!(reason, EndReason::ANSWERED_ELSEWHERE);
    alice.wait_call_state(&call, CallState::Connected).await;
    bob_laptop
        .wait_call_state(&call, CallState::Connected)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_a_third_promotes_the_call_without_interrupting_media_and_removing_ends_theirs() {
    let dir = data_dir();
    let server = TestServer::start(common::SERVER_BIN, dir.path(), &[]);
    let mut alice = Client::connect(&server.url, "Alice", 1).await;
    let mut bob = Client::connect(&server.url, "Bob", 2).await;
    let mut carol = Client::connect(&server.url, "Carol", 3).await;
    let call = talking_pair(&mut alice, &mut bob).await;
    alice
        .wait_media(&call, "audio from Bob", |m| m.audio_from_tag(2) >= 25)
        .await;
    // From here on, measure the longest silence in Bob's audio at Alice.
    let alice_media = alice.media(&call);
    for line in alice_media.lock().unwrap().lines.values_mut() {
        line.max_gap = std::time::Duration::ZERO;
    }

    bob.ok(Request::AddParticipant {
        call_id: call.clone(),
        target: carol.identity.clone(),
        alternate_caller_id: None,
    })
    .await;
    let (incoming, _) = carol.wait_incoming().await;
    assert_eq!(incoming, call);
    carol
        .ok(Request::Accept {
            call_id: call.clone(),
            muted: false,
        })
        .await;
    carol.wait_call_state(&call, CallState::Connected).await;
    carol.send(&call, Sending::audio(-20));
    for (who, tag) in [(1, 1), (2, 2)] {
        let _ = who;
        carol
            .wait_media(&call, "audio from the first two", |m| {
                m.audio_from_tag(tag) >= 25
            })
            .await;
    }
    alice
        .wait_media(&call, "audio from Carol", |m| m.audio_from_tag(3) >= 25)
        .await;
    {
        let state = alice_media.lock().unwrap();
        assert_eq!(
            state.connections, 1,
            "Alice's media connection was never replaced"
        );
        let gap = state.lines.values().map(|l| l.max_gap).max().unwrap();
        assert!(
            gap < std::time::Duration::from_millis(300),
            "Bob's audio paused for {gap:?} while Carol joined"
        );
    }

    alice
        .ok(Request::RemoveParticipant {
            call_id: call.clone(),
            target: carol.identity.clone(),
        })
        .await;
    assert_eq!(
        carol.wait_call_state(&call, CallState::Disconnected).await,
        Some(EndReason::REMOVED_BY_OTHER)
    );
    for observer in [&mut alice, &mut bob] {
        let reason = observer
            .wait_event(|e| match e {
                Event::Participants { removed, .. } => removed.first().map(|r| r.end_reason),
                _ => None,
            })
            .await;
        assert_eq!(reason, EndReason::REMOVED);
    }
    // Alice and Bob go on talking.
    let before = alice_media.lock().unwrap().audio_from_tag(2);
    alice
        .wait_media(&call, "more audio from Bob", |m| {
            m.audio_from_tag(2) >= before + 25
        })
        .await;
}

/// Waits until a counter stops growing: it grows by at most `slack` over `quiet`.
async fn wait_quiet(counter: impl Fn() -> u64, quiet: std::time::Duration, slack: u64) {
    let deadline = std::time::Instant::now() + rtcall_loadgen::client::DEADLINE;
    loop {
        let start = counter();
        let until = std::time::Instant::now() + quiet;
        while std::time::Instant::now() < until {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        if counter() <= start + slack {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "packets kept flowing");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_stops_media_both_ways_and_resume_restarts_it() {
    let dir = data_dir();
    let server = TestServer::start(common::SERVER_BIN, dir.path(), &[]);
    let mut alice = Client::connect(&server.url, "Alice", 1).await;
    let mut bob = Client::connect(&server.url, "Bob", 2).await;
    let call = talking_pair(&mut alice, &mut bob).await;
    alice
        .wait_media(&call, "audio from Bob", |m| m.audio_from_tag(2) >= 25)
        .await;
    bob.wait_media(&call, "audio from Alice", |m| m.audio_from_tag(1) >= 25)
        .await;

    alice
        .ok(Request::SetHold {
            call_id: call.clone(),
            hold: true,
        })
        .await;
    alice.wait_call_state(&call, CallState::LocalHold).await;
    bob.wait_call_state(&call, CallState::RemoteHold).await;
    let (at_alice, at_bob) = (alice.media(&call), bob.media(&call));
    let quiet = std::time::Duration::from_millis(500);
    wait_quiet(|| at_alice.lock().unwrap().audio_from_tag(2), quiet, 1).await;
    wait_quiet(|| at_bob.lock().unwrap().audio_from_tag(1), quiet, 1).await;

    alice
        .ok(Request::SetHold {
            call_id: call.clone(),
            hold: false,
        })
        .await;
    alice.wait_call_state(&call, CallState::Connected).await;
    bob.wait_call_state(&call, CallState::Connected).await;
    let (a, b) = (
        at_alice.lock().unwrap().audio_from_tag(2),
        at_bob.lock().unwrap().audio_from_tag(1),
    );
    alice
        .wait_media(&call, "audio from Bob again", |m| {
            m.audio_from_tag(2) >= a + 25
        })
        .await;
    bob.wait_media(&call, "audio from Alice again", |m| {
        m.audio_from_tag(1) >= b + 25
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_calls_forward_only_the_loudest_through_slots() {
    let dir = data_dir();
    // Above three participants a call forwards only the loudest, through three slots.
    let server = TestServer::start(
        common::SERVER_BIN,
        dir.path(),
        &["--forward-all-audio-max", "3"],
    );
    let (call, clients) = group_of(&server, 6).await;
    for (i, client) in clients.iter().enumerate() {
        let level = if i < 2 { -15 } else { -127 };
        client.send(&call, Sending::audio(level));
    }
    let listener = &clients[5];
    listener
        .wait_media(&call, "audio from both speakers", |m| {
            m.audio_from_tag(1) >= 25 && m.audio_from_tag(2) >= 25
        })
        .await;
    let media = listener.media(&call);
    let state = media.lock().unwrap();
    let slots: Vec<_> = state
        .media
        .iter()
        .filter(|l| {
            matches!(
                l,
                rtcall_protocol::signal::MediaLine::ReceiveAudio {
                    participant_id: None,
                    ..
                }
            )
        })
        .collect();
    assert_eq!(
        slots.len(),
        3,
        "three slots, not a line per participant: {:?}",
        state.media
    );
    for silent in 3..=5 {
        assert_eq!(
            state.audio_from_tag(silent),
            0,
            "silent participant {silent} was forwarded"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_subscriber_gets_the_simulcast_layer_that_fits_and_can_switch() {
    let dir = data_dir();
    let server = TestServer::start(common::SERVER_BIN, dir.path(), &[]);
    let (call, mut clients) = group_of(&server, 3).await;
    let publisher = clients[0].identity.clone();
    clients[0].send(
        &call,
        Sending {
            video_fps: 15,
            simulcast: true,
            ..Sending::default()
        },
    );
    clients[0]
        .ok(Request::SetVideo {
            call_id: call.clone(),
            source: rtcall_protocol::signal::VideoSource::Camera,
            on: true,
        })
        .await;
    // Layers are tagged 10 (q), 11 (h), 12 (f).
    let pid = clients[1]
        .wait_participant(&call, &publisher, ParticipantState::Connected)
        .await;
    let stream = clients[1].wait_camera(&call, pid).await;
    clients[2].wait_camera(&call, pid).await;
    let subscribe = |height: u32| Request::Subscribe {
        call_id: call.clone(),
        stream_id: stream,
        max_height: height,
    };
    clients[1].ok(subscribe(180)).await;
    clients[2].ok(subscribe(720)).await;
    clients[1]
        .wait_media(&call, "the quarter layer", |m| m.video_from_tag(10).0 >= 10)
        .await;
    clients[2]
        .wait_media(&call, "the full layer", |m| m.video_from_tag(12).0 >= 10)
        .await;
    for (client, wrong) in [(&clients[1], [11, 12]), (&clients[2], [10, 11])] {
        let media = client.media(&call);
        let state = media.lock().unwrap();
        for tag in wrong {
            assert_eq!(
                state.video_from_tag(tag).0,
                0,
                "layer {tag} was forwarded too"
            );
        }
    }
    // The small viewer grows: it switches to the full layer.
    clients[1].ok(subscribe(720)).await;
    clients[1]
        .wait_media(&call, "the full layer after growing", |m| {
            m.video_from_tag(12).0 >= 10
        })
        .await;
}

#[tokio::test]
async fn clients_behind_nat_get_turn_credentials_in_the_welcome() {
    let dir = data_dir();
    let server = TestServer::start(
        common::SERVER_BIN,
        dir.path(),
        &[
            "--turn-urls",
            "turn:127.0.0.1:3478,turns:127.0.0.1:5349",
            "--turn-secret",
            "shared-with-coturn",
        ],
    );
    let (identity, token) = rtcall_loadgen::client::demo_identity(&server.url).await;
    let (_, welcome) = rtcall_loadgen::client::raw_hello(&server.url, &token).await;
    let Some(rtcall_protocol::signal::Reply::Welcome { ice_servers, .. }) = welcome.ok else {
        panic!("{welcome:?}");
    };
    assert_eq!(ice_servers.len(), 1);
    assert_eq!(
        ice_servers[0].urls,
        ["turn:127.0.0.1:3478", "turns:127.0.0.1:5349"]
    );
    let username = ice_servers[0].username.as_deref().unwrap();
    let (expiry, who) = username.split_once(':').unwrap();
    assert_eq!(who, identity);
    let expiry: u64 = expiry.parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(expiry > now + 23 * 3600, "valid for about a day");
    assert!(
        ice_servers[0]
            .credential
            .as_deref()
            .is_some_and(|c| c.len() == 28),
        "base64 of a SHA-1 HMAC"
    );
}
