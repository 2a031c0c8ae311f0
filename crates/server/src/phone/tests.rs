//! The gateway alone: what it refuses and counts, which trunk dials, and its port pairs.

use super::*;
use config::TrunkFile;
use std::time::Duration;

const TRUNK: &str = "127.0.0.1:5060";

fn gateway() -> Gateway {
    let trunk: TrunkFile = toml::from_str(&format!(
        "name = \"t\"\naddress = \"{TRUNK}\"\nnumbers = [\"+14255550100\"]"
    ))
    .unwrap();
    let sockets = (
        "127.0.0.1:5070".parse().unwrap(),
        "127.0.0.1:5072".parse().unwrap(),
        1,
    );
    let config = config::validate(sockets, Duration::from_secs(60), vec![trunk]).unwrap();
    let ports = vec![MediaPorts {
        rtp: "127.0.0.1:5072".parse().unwrap(),
        webrtc: "127.0.0.1:6000".parse().unwrap(),
    }];
    Gateway::new(config, ports, 7)
}

fn request(method: &str, call_id: &str) -> Vec<u8> {
    format!(
        "{method} sip:+14255550100@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP {TRUNK};branch=z9hG4bK1\r\n\
         From: <sip:+14255550199@127.0.0.1>;tag=a\r\nTo: <sip:+14255550100@127.0.0.1>\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

fn sent(g: &mut Gateway) -> Vec<(PhoneSocket, SocketAddr, String)> {
    std::iter::from_fn(|| g.poll_transmit())
        .map(|t| {
            let first = String::from_utf8_lossy(&t.contents)
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned();
            (t.socket, t.destination, first)
        })
        .collect()
}

#[test]
fn refuses_what_it_does_not_trust_and_counts_it() {
    let mut g = gateway();
    let now = Instant::now();
    let trunk: SocketAddr = TRUNK.parse().unwrap();
    g.handle_sip(
        now,
        "10.9.9.9:5060".parse().unwrap(),
        Transport::Udp,
        &request("INVITE", "x"),
    );
    assert!(sent(&mut g).is_empty(), "strangers get nothing");
    g.handle_sip(now, trunk, Transport::Udp, b"\xff garbage");
    assert!(sent(&mut g).is_empty(), "what is not SIP is dropped");
    g.handle_sip(now, trunk, Transport::Udp, &request("BYE", "nobody"));
    g.handle_sip(now, trunk, Transport::Tcp, &request("OPTIONS", "ping"));
    // An INVITE to a number with no route.
    g.handle_sip(now, trunk, Transport::Udp, &request("INVITE", "in"));
    assert_eq!(
        sent(&mut g),
        [
            (
                PhoneSocket::Sip,
                trunk,
                "SIP/2.0 481 Call/Transaction Does Not Exist".into()
            ),
            (PhoneSocket::SipTcp, trunk, "SIP/2.0 200 OK".into()),
            (PhoneSocket::Sip, trunk, "SIP/2.0 404 Not Found".into()),
        ]
    );
    g.handle_rtp(
        0,
        "10.0.0.1:4000".parse().unwrap(),
        &[0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1],
    );
    assert_eq!(
        g.stats(),
        GatewayStats {
            not_allowed: 1,
            malformed: 1,
            unknown_dialog: 1,
            unknown_rtp: 1,
            no_port: 0,
        }
    );
    assert!(g.poll_event().is_none());
}

#[test]
fn dials_out_on_the_trunk_of_the_caller_id_or_ends_with_403() {
    let mut g = gateway();
    let now = Instant::now();
    let leg = |n| LegKey {
        call: CallId("c".into()),
        participant: ParticipantId(n),
    };
    g.handle_command(
        now,
        PhoneCommand::Dial {
            leg: leg(1),
            number: "+14255550123".into(),
            caller_id: "+14255550100".into(),
        },
    );
    let [(socket, destination, first)] = sent(&mut g).try_into().unwrap();
    assert_eq!(
        (socket, destination, first.as_str()),
        (
            PhoneSocket::Sip,
            TRUNK.parse().unwrap(),
            "INVITE sip:+14255550123@127.0.0.1:5060 SIP/2.0"
        )
    );
    g.handle_command(
        now,
        PhoneCommand::Dial {
            leg: leg(2),
            number: "+14255550123".into(),
            caller_id: "+19995550000".into(),
        },
    );
    assert_eq!(
        g.poll_event(),
        Some(PhoneEvent::Ended {
            leg: leg(2),
            reason: EndReason::phone(403),
        })
    );
    assert!(sent(&mut g).is_empty());
}

#[test]
fn a_call_needs_a_free_media_port_and_gives_it_back() {
    // This gateway has one port: a second call while the first holds it gets 503.
    let mut g = gateway();
    let now = Instant::now();
    let dial = |n| PhoneCommand::Dial {
        leg: LegKey {
            call: CallId("c".into()),
            participant: ParticipantId(n),
        },
        number: "+14255550123".into(),
        caller_id: "+14255550100".into(),
    };
    g.handle_command(now, dial(1));
    let [(_, _, invite)] = sent(&mut g).try_into().unwrap();
    assert!(invite.starts_with("INVITE"));
    g.handle_command(now, dial(2));
    assert!(matches!(
        g.poll_event(),
        Some(PhoneEvent::Ended { reason, .. }) if reason == EndReason::phone(503)
    ));
    assert_eq!(g.stats().no_port, 1);
    // The first call ends (its INVITE times out): the port is free again.
    g.handle_timeout(now + Duration::from_secs(33));
    assert!(matches!(g.poll_event(), Some(PhoneEvent::Ended { .. })));
    g.handle_command(now + Duration::from_secs(33), dial(3));
    assert!(g.poll_event().is_none(), "dialled, not refused");
}
