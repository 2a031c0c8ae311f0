//! Calls to phone numbers through the telephone gateway, with `sipp` (Debian's sip-tester) as
//! the SIP trunk on loopback: each scenario is a real SIP peer that fails (exit status) if our
//! messages do not come as the scenario expects them; the native client checks what the caller
//! sees (participant states, end reasons with ACS's PSTN codes).

mod common;

use common::{data_dir, TestServer};
use rtcall_loadgen::client::demo_identity;
use rtcall_loadgen::scenario::new_call_id;
use rtcall_loadgen::{Client, Sending};
use rtcall_protocol::call::{CallId, CallState, EndReason, ParticipantId, ParticipantState};
use rtcall_protocol::signal::{Event, Request};
use std::net::UdpSocket;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PHONE: &str = "+14255550123";
const OWNED: &str = "+14255550100";

/// A sipp trunk running one call of `scenario` on a free loopback port.
struct Trunk {
    child: Child,
    port: u16,
}

impl Trunk {
    fn start(scenario: &str) -> Trunk {
        Self::start_with(scenario, &[])
    }

    /// With more sipp flags (`-rtp_echo`: send every RTP packet back where it came from).
    fn start_with(scenario: &str, flags: &[&str]) -> Trunk {
        Self::on_port(free_port(), scenario, flags)
    }

    /// On a given port (a phone calling in needs the server up first, configured with it).
    fn on_port(port: u16, scenario: &str, flags: &[&str]) -> Trunk {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/sipp")
            .join(scenario);
        let child = Command::new("sipp")
            .args([
                "-sf",
                path.to_str().unwrap(),
                "-i",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .args(["-m", "1", "-timeout", "30s", "-timeout_error", "-nostdin"])
            .args(flags)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sipp (Debian sip-tester) is installed by scripts/setup.sh");
        Trunk { child, port }
    }

    /// Waits for the scenario to finish; panics unless it succeeded.
    fn finish(mut self) {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut stderr = String::new();
                use std::io::Read;
                let _ = self
                    .child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut stderr);
                assert!(
                    status.success(),
                    "sipp scenario failed ({status}): {stderr}"
                );
                return;
            }
            assert!(Instant::now() < deadline, "sipp did not finish");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Trunk {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A UDP port the system just gave out (so free for someone to take).
fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The server, with `trunk` as its one SIP trunk owning [`OWNED`].
fn server_with_trunk(dir: &Path, trunk: &Trunk) -> TestServer {
    server_on(dir, trunk, 0)
}

/// The same, with the gateway's SIP on `sip_port` (0: any).
fn server_on(dir: &Path, trunk: &Trunk, sip_port: u16) -> TestServer {
    server_routing(dir, trunk.port, sip_port, "")
}

/// The server with a trunk on `trunk_port` whose numbers' calls go where `routes` (TOML
/// `[[trunks.routes]]` tables, or more keys of the trunk) says, its SIP on `sip_port` (0: any).
fn server_routing(dir: &Path, trunk_port: u16, sip_port: u16, routes: &str) -> TestServer {
    server_configured(dir, "", trunk_port, sip_port, routes)
}

/// The same, with `settings` (TOML keys) first.
fn server_configured(
    dir: &Path,
    settings: &str,
    trunk_port: u16,
    sip_port: u16,
    routes: &str,
) -> TestServer {
    let config = dir.join("phone.toml");
    std::fs::write(
        &config,
        format!(
            "{settings}sip_udp = \"127.0.0.1:{sip_port}\"\nphone_rtp_udp = \"127.0.0.1:0\"\nphone_rtp_ports = 4\n\n[[trunks]]\nname = \"sipp\"\naddress = \"127.0.0.1:{trunk_port}\"\nnumbers = [\"{OWNED}\"]\n{routes}",
        ),
    )
    .unwrap();
    TestServer::start(
        common::SERVER_BIN,
        dir,
        &["--config", config.to_str().unwrap()],
    )
}

fn call_phone(call: &CallId) -> Request {
    Request::StartCall {
        call_id: call.clone(),
        targets: vec![format!("4:{PHONE}")],
        muted: false,
        alternate_caller_id: Some(OWNED.into()),
    }
}

/// Waits for the phone participant to be removed; returns the reason the others see.
async fn phone_removed(alice: &mut Client, call: &CallId) -> EndReason {
    alice
        .wait_event(|e| match e {
            Event::Participants {
                call_id, removed, ..
            } if call_id == call => removed.first().map(|r| r.end_reason),
            _ => None,
        })
        .await
}

/// Alice in a call with a phone that answered and says back what it hears (sipp
/// `-rtp_echo`), until she hangs up.
struct EchoCall {
    trunk: Trunk,
    _server: TestServer,
    alice: Client,
    call: CallId,
    phone: ParticipantId,
}

impl EchoCall {
    /// With the gateway's SIP on `sip_port` (0: any).
    async fn start(dir: &Path, sip_port: u16) -> EchoCall {
        let trunk = Trunk::start_with("answer_caller_hangs_up.xml", &["-rtp_echo"]);
        let server = server_on(dir, &trunk, sip_port);
        let mut alice = Client::connect(&server.url, "Alice", 1).await;
        let call = new_call_id();
        alice.ok(call_phone(&call)).await;
        let phone = alice
            .wait_participant(&call, &format!("4:{PHONE}"), ParticipantState::Connected)
            .await;
        EchoCall {
            trunk,
            _server: server,
            alice,
            call,
            phone,
        }
    }

    /// Alice hangs up (the phone gets a BYE); the phone's scenario must have passed.
    async fn hang_up(mut self) {
        assert_eq!(
            self.alice.hang_up(&self.call).await,
            Some(EndReason::HUNG_UP)
        );
        self.trunk.finish();
    }
}

/// Alice sends a -10 dBFS tone (real Opus) and waits for it to come back on the phone's
/// line, through two G.711 hops (the running mean level rises).
async fn tone_comes_back(echo: &mut EchoCall) {
    tone_comes_back_to(&mut echo.alice, &echo.call, echo.phone).await;
}

/// A client in a call with an echoing phone sends a tone and hears it back from the phone.
async fn tone_comes_back_to(alice: &mut Client, call: &CallId, phone: ParticipantId) {
    // (A callee's media connection may still be on its way when the phone shows Connected.)
    alice
        .wait_media(call, "a media connection", |m| m.connected)
        .await;
    alice.send(
        call,
        Sending {
            audio_level: Some(-10),
            tone_hz: Some(1_000.0),
            ..Sending::default()
        },
    );
    alice
        .wait_media(call, "the tone back from the phone", |m| {
            m.audio_level_from(phone)
                .is_some_and(|(_, level)| level > -35.0)
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hanging_up_on_a_ringing_phone_cancels_it() {
    let dir = data_dir();
    let trunk = Trunk::start("ring_until_cancelled.xml");
    let server = server_with_trunk(dir.path(), &trunk);
    let mut alice = Client::connect(&server.url, "Alice", 1).await;
    let call = new_call_id();
    alice.ok(call_phone(&call)).await;
    alice.wait_call_state(&call, CallState::Ringing).await;
    assert_eq!(alice.hang_up(&call).await, Some(EndReason::HUNG_UP));
    trunk.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_nobody_answers_is_cancelled_after_the_ring_timeout_with_480() {
    let dir = data_dir();
    let trunk = Trunk::start("ring_until_cancelled.xml");
    let server = server_configured(dir.path(), "ring_timeout = 2\n", trunk.port, 0, "");
    let mut alice = Client::connect(&server.url, "Alice", 1).await;
    let call = new_call_id();
    alice.ok(call_phone(&call)).await;
    alice.wait_call_state(&call, CallState::Ringing).await;
    assert_eq!(
        alice.wait_call_state(&call, CallState::Disconnected).await,
        Some(EndReason::phone(480))
    );
    trunk.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_media_is_heard_before_the_phone_answers() {
    // The network plays (echoes) audio for 8 s after a 183, then the phone answers.
    let dir = data_dir();
    let trunk = Trunk::start_with("early_media_then_answer.xml", &["-rtp_echo", "-d", "8000"]);
    let server = server_with_trunk(dir.path(), &trunk);
    let mut alice = Client::connect(&server.url, "Alice", 1).await;
    let call = new_call_id();
    alice.ok(call_phone(&call)).await;
    alice.wait_call_state(&call, CallState::EarlyMedia).await;
    let phone = alice
        .wait_participant(&call, &format!("4:{PHONE}"), ParticipantState::EarlyMedia)
        .await;
    tone_comes_back_to(&mut alice, &call, phone).await;
    // Still not answered: what came back was early media.
    let answered = alice.rosters[&call][&phone].state;
    assert_eq!(answered, ParticipantState::EarlyMedia);
    alice
        .wait_participant(&call, &format!("4:{PHONE}"), ParticipantState::Connected)
        .await;
    assert_eq!(alice.hang_up(&call).await, Some(EndReason::HUNG_UP));
    trunk.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_caller_hanging_up_sends_bye_to_the_phone() {
    let dir = data_dir();
    let trunk = Trunk::start("answer_caller_hangs_up.xml");
    let server = server_with_trunk(dir.path(), &trunk);
    let mut alice = Client::connect(&server.url, "Alice", 1).await;
    let call = new_call_id();
    alice.ok(call_phone(&call)).await;
    alice
        .wait_participant(&call, &format!("4:{PHONE}"), ParticipantState::Connected)
        .await;
    assert_eq!(alice.hang_up(&call).await, Some(EndReason::HUNG_UP));
    trunk.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_goes_to_the_phone_and_back_through_g711() {
    // The phone echoes its RTP: Alice's tone goes SFU -> gateway (Opus -> 8 kHz -> PCMU) ->
    // phone -> gateway (PCMU -> 48 kHz -> Opus) -> SFU -> Alice, on the phone's audio line.
    let dir = data_dir();
    let mut echo = EchoCall::start(dir.path(), 0).await;
    // Silence first: Alice sends nothing, so nothing comes back but the gateway's silence.
    echo.alice
        .wait_media(&echo.call, "silence from the phone", |m| {
            m.audio_level_from(echo.phone)
                .is_some_and(|(frames, _)| frames >= 25)
        })
        .await;
    let quiet = echo
        .alice
        .media(&echo.call)
        .lock()
        .unwrap()
        .audio_level_from(echo.phone)
        .unwrap()
        .1;
    assert!(
        quiet < -60.0,
        "the phone line is silent before anyone speaks ({quiet:.1} dBFS)"
    );
    tone_comes_back(&mut echo).await;
    echo.hang_up().await;
}

/// A SIP request for a dialog nobody has.
fn stray(method: &str, call_id: &str) -> Vec<u8> {
    format!(
        "{method} sip:rtcall@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKstray\r\n\
         From: <sip:x@127.0.0.1>;tag=a\r\nTo: <sip:y@127.0.0.1>;tag=b\r\nCall-ID: {call_id}\r\n\
         CSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_sip_is_refused_without_disturbing_a_call() {
    let dir = data_dir();
    let sip_port = free_port();
    let mut echo = EchoCall::start(dir.path(), sip_port).await;
    let gateway = format!("127.0.0.1:{sip_port}");

    // From an address no trunk allows: garbage, calls, hang-ups. Nothing is answered.
    let stranger = UdpSocket::bind("127.0.0.2:0").unwrap();
    for i in 0..200 {
        stranger.send_to(&[i as u8; 300], &gateway).unwrap();
        stranger
            .send_to(&stray("INVITE", &format!("scan{i}")), &gateway)
            .unwrap();
    }
    // From the trunk's own address: what is not SIP is dropped, requests for dialogs that
    // do not exist get 481, OPTIONS gets 200.
    let neighbour = UdpSocket::bind("127.0.0.1:0").unwrap();
    neighbour
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0u8; 2048];
    let mut replies = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    // The flood may have filled the socket's buffer, dropping these too: like any SIP UA over
    // UDP, resend until answered.
    while replies.len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the gateway answered only {replies:?}"
        );
        neighbour
            .send_to(b"\xff\xfe not SIP at all", &gateway)
            .unwrap();
        neighbour
            .send_to(b"INVITE sip:x SIP/2.0\r\n\r\n", &gateway)
            .unwrap();
        neighbour
            .send_to(&stray("BYE", "nobody"), &gateway)
            .unwrap();
        neighbour
            .send_to(&stray("OPTIONS", "ping"), &gateway)
            .unwrap();
        while let Ok((n, _)) = neighbour.recv_from(&mut buf) {
            let first = String::from_utf8_lossy(&buf[..n]);
            replies.insert(first.lines().next().unwrap_or_default().to_owned());
        }
    }
    assert_eq!(
        replies.into_iter().collect::<Vec<_>>(),
        [
            "SIP/2.0 200 OK",
            "SIP/2.0 481 Call/Transaction Does Not Exist"
        ]
    );
    // The stranger's datagrams came first and got nothing.
    stranger.set_nonblocking(true).unwrap();
    assert!(
        stranger.recv_from(&mut buf).is_err(),
        "nothing is sent to an address no trunk allows"
    );

    // The call goes on: audio still makes the round trip.
    tone_comes_back(&mut echo).await;
    echo.hang_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_go_to_the_phone_and_come_back_as_rfc_4733_events() {
    // The phone echoes its RTP, telephone events included: keys Alice sends come back as keys
    // the phone pressed.
    let dir = data_dir();
    let mut echo = EchoCall::start(dir.path(), 0).await;
    let bad = echo
        .alice
        .request(Request::SendDtmf {
            call_id: echo.call.clone(),
            tone: "Hash".into(),
        })
        .await
        .unwrap_err();
    assert_eq!((bad.code, bad.sub_code), (400, 40003));
    for tone in ["Num5", "Pound", "A"] {
        echo.alice
            .ok(Request::SendDtmf {
                call_id: echo.call.clone(),
                tone: tone.into(),
            })
            .await;
    }
    let mut received = Vec::new();
    for _ in 0..3 {
        received.push(
            echo.alice
                .wait_event(|e| match e {
                    Event::DtmfReceived {
                        participant_id,
                        tone,
                        ..
                    } if *participant_id == echo.phone => Some(tone.clone()),
                    _ => None,
                })
                .await,
        );
    }
    assert_eq!(received, ["Num5", "Pound", "A"]);
    echo.hang_up().await;
}

/// A phone calling [`OWNED`] from +14255550199 through sipp on `trunk_port`, to the gateway's
/// SIP on `sip_port`, talking (echoing) for `talk_ms` once answered.
fn phone_calls_in(trunk_port: u16, sip_port: u16, talk_ms: u32) -> Trunk {
    let gateway = format!("127.0.0.1:{sip_port}");
    let talk = talk_ms.to_string();
    Trunk::on_port(
        trunk_port,
        "call_in.xml",
        &["-s", OWNED, "-d", &talk, "-rtp_echo", &gateway],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_calling_in_rings_the_routed_user_who_answers_and_hears_it() {
    let dir = data_dir();
    let (trunk_port, sip_port) = (free_port(), free_port());
    // The route names Bob, so Bob exists first: made on the same data directory by a first
    // run of the server (identities and keys persist).
    let probe = server_routing(dir.path(), trunk_port, sip_port, "");
    let (bob_id, bob_token) = demo_identity(&probe.url).await;
    drop(probe);
    let routes = format!("\n[[trunks.routes]]\nnumber = \"{OWNED}\"\nuser = \"{bob_id}\"\n");
    let server = server_routing(dir.path(), trunk_port, sip_port, &routes);
    let mut bob = Client::connect_as(&server.url, &bob_id, &bob_token, "Bob", 2).await;
    let trunk = phone_calls_in(trunk_port, sip_port, 4_000);
    let (call, caller) = bob.wait_incoming().await;
    assert_eq!(caller, "4:+14255550199");
    bob.ok(Request::Accept {
        call_id: call.clone(),
        muted: false,
    })
    .await;
    let phone = bob
        .wait_participant(&call, "4:+14255550199", ParticipantState::Connected)
        .await;
    tone_comes_back_to(&mut bob, &call, phone).await;
    // The phone hangs up: Bob's call ends with it.
    assert_eq!(
        bob.wait_call_state(&call, CallState::Disconnected).await,
        Some(EndReason::PHONE_HUNG_UP)
    );
    trunk.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_calling_a_number_without_a_route_gets_404() {
    let dir = data_dir();
    let (trunk_port, sip_port) = (free_port(), free_port());
    let _server = server_routing(dir.path(), trunk_port, sip_port, "");
    let gateway = format!("127.0.0.1:{sip_port}");
    Trunk::on_port(trunk_port, "call_in_refused.xml", &["-s", OWNED, &gateway]).finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_calling_in_joins_the_routed_group_call() {
    let dir = data_dir();
    let (trunk_port, sip_port) = (free_port(), free_port());
    let routes = format!("\n[[trunks.routes]]\nnumber = \"{OWNED}\"\ngroup = \"support\"\n");
    let server = server_routing(dir.path(), trunk_port, sip_port, &routes);
    let mut alice = Client::connect(&server.url, "Alice", 1).await;
    let group = CallId("support".into());
    alice.join_group(&group).await;
    let trunk = phone_calls_in(trunk_port, sip_port, 4_000);
    let phone = alice
        .wait_participant(&group, "4:+14255550199", ParticipantState::Connected)
        .await;
    tone_comes_back_to(&mut alice, &group, phone).await;
    // The phone hangs up and leaves; the group call goes on.
    assert_eq!(
        phone_removed(&mut alice, &group).await,
        EndReason::PHONE_HUNG_UP
    );
    trunk.finish();
}

/// Over `transport`'s sipp flags (`-t t1` for TCP) and trunk keys: the phone answers, says
/// back what it hears for 3 s, then hangs up; the caller sees it ring, connect, echo her
/// tone, and leave with 0/560000, which also ends her call.
async fn answered_then_hung_up_on(flags: &[&str], trunk_keys: &str) {
    let dir = data_dir();
    let flags = [flags, &["-rtp_echo", "-d", "3000"]].concat();
    let trunk = Trunk::start_with("answer_then_hang_up.xml", &flags);
    let server = server_routing(dir.path(), trunk.port, 0, trunk_keys);
    let mut alice = Client::connect(&server.url, "Alice", 1).await;
    let call = new_call_id();
    alice.ok(call_phone(&call)).await;
    alice.wait_call_state(&call, CallState::Ringing).await;
    let phone = alice
        .wait_participant(&call, &format!("4:{PHONE}"), ParticipantState::Connected)
        .await;
    alice.wait_call_state(&call, CallState::Connected).await;
    tone_comes_back_to(&mut alice, &call, phone).await;
    assert_eq!(
        phone_removed(&mut alice, &call).await,
        EndReason::PHONE_HUNG_UP
    );
    assert_eq!(
        alice.wait_call_state(&call, CallState::Disconnected).await,
        Some(EndReason::PHONE_HUNG_UP)
    );
    trunk.finish();
}

/// Over `transport`'s sipp flags and trunk keys: a busy phone ends the call with 486/560486.
async fn busy(flags: &[&str], trunk_keys: &str) {
    let dir = data_dir();
    let trunk = Trunk::start_with("busy.xml", flags);
    let server = server_routing(dir.path(), trunk.port, 0, trunk_keys);
    let mut alice = Client::connect(&server.url, "Alice", 1).await;
    let call = new_call_id();
    alice.ok(call_phone(&call)).await;
    assert_eq!(
        alice.wait_call_state(&call, CallState::Disconnected).await,
        Some(EndReason::phone(486))
    );
    trunk.finish();
}

const TCP: &str = "transport = \"tcp\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_answers_talks_and_hangs_up_and_the_caller_sees_560000() {
    answered_then_hung_up_on(&[], "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tcp_a_phone_answers_talks_and_hangs_up() {
    // The phone's BYE comes over the connection the gateway opened.
    answered_then_hung_up_on(&["-t", "t1"], TCP).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_phone_ends_the_call_with_486_560486() {
    busy(&[], "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tcp_a_busy_phone_ends_the_call_with_486_560486() {
    busy(&["-t", "t1"], TCP).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_calls_on_one_trunk_each_get_their_own_audio() {
    // One sipp answers both and echoes both from the same media port: only the gateway's RTP
    // port per call tells the calls apart.
    let dir = data_dir();
    let trunk = Trunk::start_with("answer_caller_hangs_up.xml", &["-rtp_echo", "-m", "2"]);
    let server = server_with_trunk(dir.path(), &trunk);
    let mut alice = Client::connect(&server.url, "Alice", 1).await;
    let mut bob = Client::connect(&server.url, "Bob", 2).await;
    let (alice_call, bob_call) = (new_call_id(), new_call_id());
    alice.ok(call_phone(&alice_call)).await;
    bob.ok(call_phone(&bob_call)).await;
    let phone = format!("4:{PHONE}");
    let alice_phone = alice
        .wait_participant(&alice_call, &phone, ParticipantState::Connected)
        .await;
    let bob_phone = bob
        .wait_participant(&bob_call, &phone, ParticipantState::Connected)
        .await;
    // Only Bob sends: his tone comes back to him, and Alice's phone line stays silent.
    tone_comes_back_to(&mut bob, &bob_call, bob_phone).await;
    let heard = alice
        .media(&alice_call)
        .lock()
        .unwrap()
        .audio_level_from(alice_phone);
    assert!(
        heard.is_none_or(|(_, level)| level < -60.0),
        "Alice's phone line carries nothing of Bob's call: {heard:?}"
    );
    tone_comes_back_to(&mut alice, &alice_call, alice_phone).await;
    assert_eq!(alice.hang_up(&alice_call).await, Some(EndReason::HUNG_UP));
    assert_eq!(bob.hang_up(&bob_call).await, Some(EndReason::HUNG_UP));
    trunk.finish();
}
