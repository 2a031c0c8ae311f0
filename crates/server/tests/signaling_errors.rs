//! Bad input at the signaling WebSocket: refused tokens, malformed, oversized and out-of-place
//! messages, silent endpoints. Each gets a typed error or a clean drop, and calls in progress
//! are not disturbed.

mod common;

use common::{data_dir, IdentityClient, TestServer};
use ed25519_dalek::{Signer, SigningKey};
use futures_util::SinkExt;
use rtcall_loadgen::client::{demo_identity, next_frame, raw_hello};
use rtcall_loadgen::scenario::new_call_id;
use rtcall_loadgen::{Client, Sending};
use rtcall_protocol::call::{CallState, EndReason, ParticipantState};
use rtcall_protocol::signal::{ErrorKind, Event, Request, ServerFrame};
use rtcall_protocol::token::{self, base64url};
use rtcall_server::identity::AccessKey;
use tokio_tungstenite::tungstenite::Message;

fn key() -> AccessKey {
    AccessKey::from_base64("dGVzdC1hY2Nlc3Mta2V5LXRoaXJ0eS10d28tYnl0ZXMh").unwrap()
}

fn refused_with(reply: &ServerFrame, kind: ErrorKind) {
    let err = reply
        .err
        .as_ref()
        .unwrap_or_else(|| panic!("expected an error, got {reply:?}"));
    assert!(err.is(kind), "expected {kind:?}, got {err:?}");
    assert!(!err.message.is_empty());
}

#[tokio::test]
async fn hello_with_a_bad_token_is_refused_with_the_reason() {
    let dir = data_dir();
    let server = TestServer::start(
        common::SERVER_BIN,
        dir.path(),
        &["--access-key", &key().to_base64()],
    );
    let identity = IdentityClient::new(&server, key());
    let (id, good) = demo_identity(&server.url).await;

    // Forged: our own key.
    let mut claims = token::decode_unverified(&good).unwrap();
    let sign = |key: &SigningKey, claims: &token::TokenClaims| {
        let input = format!(
            "{}.{}",
            base64url(br#"{"alg":"EdDSA","typ":"JWT"}"#),
            base64url(&serde_json::to_vec(claims).unwrap())
        );
        format!(
            "{input}.{}",
            base64url(&key.sign(input.as_bytes()).to_bytes())
        )
    };
    let (mut ws, reply) = raw_hello(
        &server.url,
        &sign(&SigningKey::from_bytes(&[9; 32]), &claims),
    )
    .await;
    refused_with(&reply, ErrorKind::InvalidToken);
    assert!(
        next_frame(&mut ws).await.is_none(),
        "the connection is closed after a refused hello"
    );

    // Expired: the service's own key, an old expiry.
    let db = rusqlite::Connection::open(dir.path().join("rtcall.db")).unwrap();
    let seed: Vec<u8> = db
        .query_row(
            "SELECT value FROM settings WHERE name = 'token_signing_key'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let real = SigningKey::from_bytes(&seed.try_into().unwrap());
    claims.iat -= 3 * 24 * 3600;
    claims.exp = claims.iat + 3600;
    let (_, reply) = raw_hello(&server.url, &sign(&real, &claims)).await;
    refused_with(&reply, ErrorKind::TokenExpired);

    // Chat only: no calling.
    let chat = identity
        .send(
            "POST",
            &format!("/identities/{}/:issueAccessToken", id.replace(':', "%3A")),
            br#"{"scopes": ["chat"]}"#,
        )
        .await;
    let (_, reply) = raw_hello(&server.url, chat.body["token"].as_str().unwrap()).await;
    refused_with(&reply, ErrorKind::NotPermitted);

    // Revoked.
    identity
        .send(
            "POST",
            &format!("/identities/{}/:revokeAccessTokens", id.replace(':', "%3A")),
            b"",
        )
        .await;
    let (_, reply) = raw_hello(&server.url, &good).await;
    refused_with(&reply, ErrorKind::TokenRevoked);

    let (_, reply) = raw_hello(&server.url, "not.a.token").await;
    refused_with(&reply, ErrorKind::InvalidToken);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_out_of_place_messages_get_errors_and_disturb_no_call() {
    let dir = data_dir();
    let server = TestServer::start(common::SERVER_BIN, dir.path(), &[]);
    // A call in progress that must not notice anything.
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
    bob.wait_incoming().await;
    bob.ok(Request::Accept {
        call_id: call.clone(),
        muted: false,
    })
    .await;
    bob.wait_call_state(&call, CallState::Connected).await;
    alice.send(&call, Sending::audio(-20));

    // Before hello.
    let (_, token) = demo_identity(&server.url).await;
    let (mut early, _) =
        tokio_tungstenite::connect_async(server.url.replacen("http://", "ws://", 1) + "signal")
            .await
            .unwrap();
    early
        .send(Message::Text(r#"{"id": 1, "req": "ping"}"#.into()))
        .await
        .unwrap();
    refused_with(
        &next_frame(&mut early).await.unwrap(),
        ErrorKind::NotAuthenticated,
    );

    // After hello: each bad message gets its error, the connection stays.
    let (mut ws, welcome) = raw_hello(&server.url, &token).await;
    assert!(welcome.ok.is_some(), "{welcome:?}");
    let bad: Vec<(Message, ErrorKind)> = vec![
        (Message::Text("not json".into()), ErrorKind::MalformedMessage),
        (Message::Text(r#"{"id": 2, "req": {"launchMissiles": {}}}"#.into()), ErrorKind::MalformedMessage),
        (Message::Binary(vec![1, 2, 3].into()), ErrorKind::MalformedMessage),
        (Message::Text("x".repeat(300 * 1024).into()), ErrorKind::MessageTooLarge),
        (
            Message::Text(format!(r#"{{"id": 3, "req": {{"hangUp": {{"callId": "{}", "forEveryone": true}}}}}}"#, call.0).into()),
            ErrorKind::CallNotFound,
        ),
        (
            Message::Text(format!(r#"{{"id": 4, "req": {{"removeParticipant": {{"callId": "{}", "target": "{}"}}}}}}"#, call.0, bob.identity).into()),
            ErrorKind::CallNotFound,
        ),
        (Message::Text(r#"{"id": 5, "req": {"joinGroup": {"groupId": "../../etc"}}}"#.into()), ErrorKind::InvalidArgument),
        (Message::Text(r#"{"id": 6, "req": {"hello": {"token": "t", "version": 1}}}"#.into()), ErrorKind::NotAuthenticated),
    ];
    for (message, kind) in bad {
        ws.send(message).await.unwrap();
        refused_with(&next_frame(&mut ws).await.expect("still connected"), kind);
    }
    // Answers to offers: stale versions and garbage SDP.
    let group = uuid::Uuid::new_v4().to_string();
    ws.send(Message::Text(
        format!(r#"{{"id": 7, "req": {{"joinGroup": {{"groupId": "{group}"}}}}}}"#).into(),
    ))
    .await
    .unwrap();
    let mut offered = None;
    while offered.is_none() {
        let frame = next_frame(&mut ws).await.unwrap();
        if let Some(Event::SdpOffer { version, .. }) = frame.ev {
            offered = Some(version);
        }
    }
    let version = offered.unwrap();
    for (v, sdp, kind) in [
        (version + 5, "v=0", ErrorKind::WrongState),
        (version, "garbage", ErrorKind::InvalidArgument),
    ] {
        let request = format!(
            r#"{{"id": 8, "req": {{"sdpAnswer": {{"callId": "{group}", "version": {v}, "sdp": "{sdp}"}}}}}}"#
        );
        ws.send(Message::Text(request.into())).await.unwrap();
        let reply = loop {
            let frame = next_frame(&mut ws).await.unwrap();
            if frame.re.is_some() {
                break frame;
            }
        };
        refused_with(&reply, kind);
    }
    ws.send(Message::Text(r#"{"id": 9, "req": "ping"}"#.into()))
        .await
        .unwrap();
    let pong = loop {
        let frame = next_frame(&mut ws).await.unwrap();
        if frame.re == Some(9) {
            break frame;
        }
    };
    assert!(pong.ok.is_some(), "{pong:?}");

    // The call went on throughout.
    let before = bob.media(&call).lock().unwrap().audio_from_tag(1);
    bob.wait_media(&call, "audio from Alice after all that", |m| {
        m.audio_from_tag(1) >= before + 25
    })
    .await;
    assert!(alice.backlog.iter().all(|e| !matches!(
        e,
        Event::CallState {
            state: CallState::Disconnected,
            ..
        }
    )));
    let health = reqwest::get(server.at("healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_endpoint_is_shown_reconnecting_then_dropped_and_the_call_goes_on() {
    let dir = data_dir();
    let server = TestServer::start(
        common::SERVER_BIN,
        dir.path(),
        &["--heartbeat-ms", "300", "--resume-window", "1"],
    );
    let group = new_call_id();
    let mut clients = Vec::new();
    for (tag, name) in [(1, "Alice"), (2, "Bob"), (3, "Ghost")] {
        let mut client = Client::connect(&server.url, name, tag).await;
        client
            .ok(Request::JoinGroup {
                group_id: group.0.clone(),
                muted: false,
                lobby: false,
            })
            .await;
        client.wait_call_state(&group, CallState::Connected).await;
        client.send(&group, Sending::audio(-20));
        clients.push(client);
    }
    let ghost = clients.pop().unwrap();
    let ghost_identity = ghost.identity.clone();
    ghost.stop_heartbeat();
    let alice = &mut clients[0];
    // First it is reconnecting, its state unchanged; then, the window over, it has left.
    let reconnecting = alice
        .wait_event(|e| match e {
            Event::Participants { upsert, .. } => upsert
                .iter()
                .find(|p| p.identity == ghost_identity && p.reconnecting)
                .map(|p| p.state),
            _ => None,
        })
        .await;
    assert_eq!(reconnecting, ParticipantState::Connected);
    let reason = alice
        .wait_event(|e| match e {
            Event::Participants { removed, .. } => removed.first().map(|r| r.end_reason),
            _ => None,
        })
        .await;
    assert_eq!(reason, EndReason::LEFT_ABRUPTLY);
    assert!(alice.rosters[&group]
        .values()
        .all(|p| p.identity != ghost_identity));
    let before = clients[0].media(&group).lock().unwrap().audio_from_tag(2);
    clients[0]
        .wait_media(&group, "audio from Bob after the ghost left", |m| {
            m.audio_from_tag(2) >= before + 25
        })
        .await;
    drop(ghost);
}
