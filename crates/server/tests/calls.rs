//! Calls through the real server with native clients: real WebSocket signaling and real WebRTC
//! media over UDP (str0m on both ends). Each test checks that media actually flowed.

mod common;

use common::client::{Client, Sending};
use common::{data_dir, TestServer};
use rtcall_protocol::call::{CallId, CallState, EndReason, ParticipantState};
use rtcall_protocol::signal::Request;

fn new_call_id() -> CallId {
    CallId(uuid::Uuid::new_v4().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_to_one_call_carries_audio_and_video_both_ways() {
    let dir = data_dir();
    let server = TestServer::start(dir.path(), &[]);
    let mut alice = Client::connect(&server.url, "Alice", 1).await;
    let mut bob = Client::connect(&server.url, "Bob", 2).await;
    let call = new_call_id();
    alice
        .ok(Request::StartCall {
            call_id: call.clone(),
            targets: vec![bob.identity.clone()],
            muted: false,
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
        .wait_participant(&alice.identity, ParticipantState::Connected)
        .await;
    let bob_in_alice = alice
        .wait_participant(&bob.identity, ParticipantState::Connected)
        .await;
    let alice_camera = bob.wait_camera(alice_in_bob).await;
    let bob_camera = alice.wait_camera(bob_in_alice).await;
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

    alice
        .ok(Request::HangUp {
            call_id: call.clone(),
            for_everyone: false,
        })
        .await;
    assert_eq!(
        alice.wait_call_state(&call, CallState::Disconnected).await,
        Some(EndReason::HUNG_UP)
    );
    assert_eq!(
        bob.wait_call_state(&call, CallState::Disconnected).await,
        Some(EndReason::HUNG_UP)
    );
    let _ = Sending::default();
}
