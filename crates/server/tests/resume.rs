//! Resuming a signaling session over a real WebSocket: the owner gets back its endpoint and
//! what it missed; another identity, a used secret or a resume after the window are refused
//! with `SessionNotResumable` and change nothing in the call.

mod common;

use common::{data_dir, TestServer};
use futures_util::SinkExt;
use rtcall_loadgen::client::{demo_identity, next_frame};
use rtcall_loadgen::scenario::new_call_id;
use rtcall_loadgen::Client;
use rtcall_protocol::call::{CallId, EndReason, ParticipantState};
use rtcall_protocol::signal::{
    ClientFrame, ErrorKind, Event, Reply, Request, Resume, ServerFrame, PROTOCOL_VERSION,
};
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A socket signed in with `token`, resuming `resume` if given; the hello's reply.
async fn hello(server: &TestServer, token: &str, resume: Option<Resume>) -> (Socket, ServerFrame) {
    let (mut ws, _) =
        tokio_tungstenite::connect_async(server.url.replacen("http://", "ws://", 1) + "signal")
            .await
            .expect("websocket connects");
    send(
        &mut ws,
        ClientFrame::new(
            1,
            Request::Hello {
                token: token.into(),
                display_name: "Ada".into(),
                version: PROTOCOL_VERSION,
                resume,
            },
        ),
    )
    .await;
    let reply = next_frame(&mut ws).await.expect("a reply to hello");
    (ws, reply)
}

async fn send(ws: &mut Socket, frame: ClientFrame) {
    ws.send(Message::Text(serde_json::to_string(&frame).unwrap().into()))
        .await
        .unwrap();
}

/// The endpoint and secret of a welcome.
fn ticket(frame: &ServerFrame) -> (String, String, bool, Option<u32>) {
    match &frame.ok {
        Some(Reply::Welcome {
            endpoint_id,
            resume_secret,
            resumed,
            last_request,
            ..
        }) => (
            endpoint_id.clone(),
            resume_secret.clone(),
            *resumed,
            *last_request,
        ),
        other => panic!("expected a welcome, got {other:?} in {frame:?}"),
    }
}

fn refused(frame: &ServerFrame) {
    let err = frame
        .err
        .as_ref()
        .unwrap_or_else(|| panic!("expected a refusal, got {frame:?}"));
    assert!(err.is(ErrorKind::SessionNotResumable), "{err:?}");
}

/// Reads frames until one answers `id`; returns the highest frame number seen.
async fn until_reply(ws: &mut Socket, id: u32) -> u64 {
    let mut last = 0;
    loop {
        let frame = next_frame(ws).await.expect("connected");
        last = last.max(frame.seq.unwrap_or(0));
        if frame.re == Some(id) {
            assert!(frame.err.is_none(), "{frame:?}");
            return last;
        }
    }
}

/// Joins group call `group` with request `id`; returns the highest frame number seen.
async fn join(ws: &mut Socket, id: u32, group: &CallId) -> u64 {
    let join = Request::JoinGroup {
        group_id: group.0.clone(),
        muted: false,
        lobby: false,
    };
    send(ws, ClientFrame::new(id, join)).await;
    until_reply(ws, id).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_owner_resumes_once_with_what_it_missed() {
    let dir = data_dir();
    let server = TestServer::start(common::SERVER_BIN, dir.path(), &[]);
    let group = new_call_id();
    let (ada, ada_token) = demo_identity(&server.url).await;
    let (mut ws, welcome) = hello(&server, &ada_token, None).await;
    let (endpoint, secret, resumed, _) = ticket(&welcome);
    assert!(
        !resumed && secret.len() >= 43,
        "a fresh session, 256-bit secret"
    );
    let last_seq = join(&mut ws, 2, &group).await;
    let (bob_identity, bob_token) = demo_identity(&server.url).await;
    let mut bob = Client::connect_as(&server.url, &bob_identity, &bob_token, "Bob", 2).await;
    bob.join_group(&group).await;
    bob.wait_participant(&group, &ada, ParticipantState::Connecting)
        .await;
    // Ada's socket goes; Bob sees her reconnecting, still in the call.
    drop(ws);
    bob.wait_roster(&group, |r| {
        r.values()
            .find(|p| p.identity == ada && p.reconnecting)
            .map(|_| ())
    })
    .await;

    let claim = |secret: &str| {
        Some(Resume {
            endpoint_id: endpoint.clone(),
            secret: secret.into(),
            last_seq,
        })
    };
    // Another identity with the right secret, and Ada with a wrong one: refused.
    refused(&hello(&server, &bob_token, claim(&secret)).await.1);
    refused(&hello(&server, &ada_token, claim("not-the-secret")).await.1);

    // Ada herself: the same endpoint, a new secret, and Bob's arrival, which she missed.
    let (mut ws, welcome) = hello(&server, &ada_token, claim(&secret)).await;
    let (again, next_secret, resumed, last_request) = ticket(&welcome);
    assert_eq!(again, endpoint);
    assert!(resumed);
    assert_eq!(last_request, Some(2), "the service took her join");
    assert_ne!(next_secret, secret);
    let missed = loop {
        let frame = next_frame(&mut ws).await.expect("connected");
        assert!(frame.seq.unwrap() > last_seq, "only what she missed");
        if let Some(Event::Participants { upsert, .. }) = &frame.ev {
            if let Some(p) = upsert.iter().find(|p| p.identity == bob_identity) {
                break p.clone();
            }
        }
    };
    assert_eq!(missed.display_name, "Bob");
    bob.wait_roster(&group, |r| {
        r.values()
            .find(|p| p.identity == ada && !p.reconnecting)
            .map(|_| ())
    })
    .await;

    // Once her new session has spoken, the used secret resumes nothing, even for Ada, and her
    // session carries on.
    send(&mut ws, ClientFrame::new(3, Request::Ping)).await;
    until_reply(&mut ws, 3).await;
    refused(&hello(&server, &ada_token, claim(&secret)).await.1);
    send(&mut ws, ClientFrame::new(4, Request::Ping)).await;
    until_reply(&mut ws, 4).await;
    assert!(bob.rosters[&group].values().any(|p| p.identity == ada));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_window_the_participant_has_left_and_its_session_is_not_resumable() {
    let dir = data_dir();
    let server = TestServer::start(common::SERVER_BIN, dir.path(), &["--resume-window", "1"]);
    let group = new_call_id();
    let (ada, ada_token) = demo_identity(&server.url).await;
    let (mut ws, welcome) = hello(&server, &ada_token, None).await;
    let (endpoint, secret, _, _) = ticket(&welcome);
    let last_seq = join(&mut ws, 2, &group).await;
    let mut bob = Client::connect(&server.url, "Bob", 2).await;
    bob.join_group(&group).await;
    drop(ws);
    let reason = bob
        .wait_event(|e| match e {
            Event::Participants { removed, .. } => removed.first().map(|r| r.end_reason),
            _ => None,
        })
        .await;
    assert_eq!(reason, EndReason::LEFT_ABRUPTLY);
    let resume = Resume {
        endpoint_id: endpoint,
        secret,
        last_seq,
    };
    let (mut ws, reply) = hello(&server, &ada_token, Some(resume)).await;
    refused(&reply);
    // The same socket takes a fresh hello, and the group call can be joined again.
    send(
        &mut ws,
        ClientFrame::new(
            5,
            Request::Hello {
                token: ada_token.clone(),
                display_name: "Ada".into(),
                version: PROTOCOL_VERSION,
                resume: None,
            },
        ),
    )
    .await;
    let welcome = next_frame(&mut ws).await.unwrap();
    assert!(!ticket(&welcome).2);
    join(&mut ws, 6, &group).await;
    bob.wait_participant(&group, &ada, ParticipantState::Connecting)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_normal_close_is_a_goodbye_the_others_see_at_once() {
    use tokio_tungstenite::tungstenite::protocol::{frame::coding::CloseCode, CloseFrame};
    let dir = data_dir();
    let server = TestServer::start(common::SERVER_BIN, dir.path(), &[]);
    let group = new_call_id();
    let (ada, ada_token) = demo_identity(&server.url).await;
    let (mut ws, _) = hello(&server, &ada_token, None).await;
    join(&mut ws, 2, &group).await;
    let mut bob = Client::connect(&server.url, "Bob", 2).await;
    bob.join_group(&group).await;
    bob.wait_participant(&group, &ada, ParticipantState::Connecting)
        .await;
    ws.close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    }))
    .await
    .unwrap();
    // Removed within the default 30 s window, without being shown reconnecting first.
    let removed = bob
        .wait_event(|e| match e {
            Event::Participants {
                upsert, removed, ..
            } => {
                assert!(
                    !upsert.iter().any(|p| p.identity == ada && p.reconnecting),
                    "a goodbye is not a reconnect"
                );
                removed.first().map(|r| r.end_reason)
            }
            _ => None,
        })
        .await;
    assert_eq!(removed, EndReason::LEFT_ABRUPTLY);
}
