//! The echo test service (`8:echo123`) through the real server with native clients: the bot
//! answers, plays its prompt, and after the recording window sends back exactly what the caller
//! sent (each client's frames carry its tag), audio and video; callers are isolated.

mod common;

use common::{data_dir, TestServer};
use rtcall_loadgen::scenario::new_call_id;
use rtcall_loadgen::{Client, LineKind, MediaState, Sending};
use rtcall_protocol::call::{CallId, CallState, EndReason, ParticipantState};
use rtcall_protocol::signal::{EchoReport, ErrorKind, Event, Request};
use rtcall_server::echo::{prompt_tone, ECHO_BOT, ECHO_BOT_NAME};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// The recording window the server runs with here.
const RECORD: Duration = Duration::from_millis(2000);

fn start_server(dir: &std::path::Path) -> TestServer {
    let record = RECORD.as_millis().to_string();
    TestServer::start(common::SERVER_BIN, dir, &["--echo-record-ms", &record])
}

/// Calls the bot and waits until it is a Connected participant; returns the call.
async fn call_echo(client: &mut Client) -> CallId {
    let call = new_call_id();
    client
        .ok(Request::StartCall {
            call_id: call.clone(),
            targets: vec![ECHO_BOT.into()],
            muted: false,
            alternate_caller_id: None,
        })
        .await;
    client.wait_call_state(&call, CallState::Connected).await;
    let name = client
        .wait_roster(&call, |roster| {
            roster
                .values()
                .find(|p| p.identity == ECHO_BOT && p.state == ParticipantState::Connected)
                .map(|p| p.display_name.clone())
        })
        .await;
    assert_eq!(name, ECHO_BOT_NAME);
    call
}

/// Prompt frames received: the client counts audio by its first two bytes, which for the
/// prompt's real Opus frames are their TOC byte and the first coded byte (never a client tag).
fn prompt_frames(media: &MediaState) -> u64 {
    let heads: BTreeSet<u16> = prompt_tone()
        .iter()
        .map(|frame| u16::from_be_bytes([frame[0], frame[1]]))
        .collect();
    assert!(!heads.contains(&1) && !heads.contains(&2));
    heads.iter().map(|head| media.audio_from_tag(*head)).sum()
}

async fn wait_report(client: &mut Client, want: impl Fn(&EchoReport) -> bool) -> EchoReport {
    client
        .wait_event(|e| match e {
            Event::EchoReport { report, .. } if want(report) => Some(report.clone()),
            _ => None,
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_plays_a_prompt_then_sends_back_what_it_recorded() {
    let dir = data_dir();
    let server = start_server(dir.path());
    let mut alice = Client::connect(&server.url, "Alice", 1).await;
    let call = call_echo(&mut alice).await;
    alice
        .wait_media(&call, "the prompt", |m| prompt_frames(m) >= 25)
        .await;
    let prompt_heard = Instant::now();
    alice.start_camera(&call, Some(-20)).await;

    // Nothing of Alice's comes back while the bot records...
    alice
        .wait_media(&call, "her own audio back", |m| m.audio_from_tag(1) >= 25)
        .await;
    let echoed = Instant::now().duration_since(prompt_heard);
    assert!(
        echoed >= RECORD,
        "audio came back after {echoed:?}, inside the {RECORD:?} recording window"
    );
    assert!(echoed < RECORD * 3, "audio came back only after {echoed:?}");

    // ...then her video too, as the bot's camera stream.
    let bot = alice
        .wait_participant(&call, ECHO_BOT, ParticipantState::Connected)
        .await;
    let stream = alice.wait_camera(&call, bot).await;
    alice
        .ok(Request::Subscribe {
            call_id: call.clone(),
            stream_id: stream,
            max_height: 360,
        })
        .await;
    alice
        .wait_media(&call, "her own video back", |m| {
            let (frames, keyframes) = m.video_from_tag(1);
            frames >= 5 && keyframes >= 1
        })
        .await;

    let report = wait_report(&mut alice, |r| r.audio_received && r.video_received).await;
    assert!(["recording", "playback", "prompt"].contains(&report.phase.as_str()));

    // The cycle repeats: a second prompt follows the playback.
    let first_prompt = prompt_frames(&alice.media(&call).lock().unwrap());
    alice
        .wait_media(&call, "a second prompt", |m| {
            prompt_frames(m) >= first_prompt + 25
        })
        .await;

    assert_eq!(alice.hang_up(&call).await, Some(EndReason::HUNG_UP));
}

/// Callers testing at once in this test.
const SIMULTANEOUS: u16 = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_test_calls_each_hear_only_themselves() {
    let dir = data_dir();
    let server = start_server(dir.path());
    let speaking = Sending::audio(-20);
    let mut callers = Vec::new();
    for tag in 1..=SIMULTANEOUS {
        let mut client = Client::connect(&server.url, &format!("Caller {tag}"), tag).await;
        let call = call_echo(&mut client).await;
        client.send(&call, speaking);
        callers.push((client, call));
    }
    for (client, call) in &callers {
        let own = client.tag;
        client
            .wait_media(call, "their own audio back", |m| {
                m.audio_from_tag(own) >= 50
            })
            .await;
    }
    for (client, call) in &callers {
        let media = client.media(call);
        let media = media.lock().unwrap();
        for other in (1..=SIMULTANEOUS).filter(|t| *t != client.tag) {
            assert_eq!(
                media.audio_from_tag(other),
                0,
                "{} hears {other}",
                client.tag
            );
        }
        // Audio only: no video comes back.
        assert_eq!(media.frames(LineKind::Video), 0);
    }
    let (first, rest) = callers.split_first_mut().expect("callers");
    let report = wait_report(&mut first.0, |r| r.audio_received).await;
    assert!(!report.video_received);

    // The others hanging up leave the first one's test running.
    for (client, call) in rest {
        client.hang_up(call).await;
    }
    let (alice, alice_call) = first;
    let before = alice.media(alice_call).lock().unwrap().audio_from_tag(1);
    alice
        .wait_media(alice_call, "the next playback", |m| {
            m.audio_from_tag(1) >= before + 50
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_takes_one_to_one_calls_only() {
    let dir = data_dir();
    let server = start_server(dir.path());
    let mut alice = Client::connect(&server.url, "Alice", 1).await;
    let bob = Client::connect(&server.url, "Bob", 2).await;
    let invalid = ErrorKind::InvalidArgument.codes();

    let error = alice
        .request(Request::StartCall {
            call_id: new_call_id(),
            targets: vec![ECHO_BOT.into(), bob.identity.clone()],
            muted: false,
            alternate_caller_id: None,
        })
        .await
        .expect_err("a group call with the bot is refused");
    assert_eq!((error.code, error.sub_code), invalid);

    let call = call_echo(&mut alice).await;
    let error = alice
        .request(Request::AddParticipant {
            call_id: call.clone(),
            target: bob.identity.clone(),
            alternate_caller_id: None,
        })
        .await
        .expect_err("a test call takes no one else");
    assert_eq!((error.code, error.sub_code), invalid);
}
