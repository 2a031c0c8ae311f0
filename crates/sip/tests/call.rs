//! The call state machines against the exchanges RFC 3261 prescribes, with time as an input:
//! every datagram the call sends is parsed and checked as a trunk would.

use rtcall_sip::call::{
    called_number, caller_number, CallEvent, Credentials, Dial, EndCause, SipCall, Transport,
};
use rtcall_sip::g711::Law;
use rtcall_sip::message::{Message, Method};
use rtcall_sip::sdp::{AudioDescription, Direction};
use std::time::{Duration, Instant};

fn audio(port: u16) -> AudioDescription {
    AudioDescription {
        address: "127.0.0.1".parse().unwrap(),
        port,
        laws: vec![Law::Ulaw, Law::Alaw],
        telephone_event: Some(101),
        direction: Direction::SendRecv,
    }
}

fn dial(credentials: Option<Credentials>) -> Dial {
    Dial {
        local: "127.0.0.1:5070".parse().unwrap(),
        trunk_host: "127.0.0.1:5060".into(),
        to: "+14255550123".into(),
        from: "+14255550100".into(),
        credentials,
        call_id: "call-1".into(),
        tag: "ours".into(),
        ring_timeout: Duration::from_secs(60),
        transport: Transport::Udp,
    }
}

/// Everything the call sent, parsed.
fn sent(call: &mut SipCall) -> Vec<Message> {
    std::iter::from_fn(|| call.poll_transmit())
        .map(|bytes| Message::parse(&bytes).expect("the call sends valid SIP"))
        .collect()
}

fn events(call: &mut SipCall) -> Vec<CallEvent> {
    std::iter::from_fn(|| call.poll_event()).collect()
}

/// The methods of everything the call sent.
fn sent_methods(call: &mut SipCall) -> Vec<Method> {
    sent(call).iter().map(|m| m.cseq().unwrap().1).collect()
}

/// The call's only news is that it ended refused with `code`.
fn assert_rejected(call: &mut SipCall, code: u16) {
    match &events(call)[..] {
        [CallEvent::Ended(cause @ EndCause::Rejected { .. })] => assert_eq!(cause.sip_code(), code),
        other => panic!("expected a {code} end, got {other:?}"),
    }
}

/// A call dialled without credentials, and its INVITE.
fn dialled(t0: Instant) -> (SipCall, Message) {
    let mut call = SipCall::dial(t0, dial(None), &audio(30000));
    let [invite] = sent(&mut call).try_into().unwrap();
    (call, invite)
}

fn answered(invite: &Message) -> Message {
    let mut ok = Message::response_to(invite, 200, "OK", Some("theirs"));
    ok.push("Contact", "<sip:phone@127.0.0.1:5060>")
        .push("Record-Route", "<sip:proxy1;lr>, <sip:proxy2;lr>")
        .set_body("application/sdp", audio(40000).write(9, 9));
    ok
}

#[test]
fn an_answered_call_acks_the_200_and_hangs_up_with_bye_through_the_route_set() {
    let t0 = Instant::now();
    let (mut call, invite) = dialled(t0);
    assert_eq!(invite.method(), Some(Method::Invite));
    assert_eq!(called_number(&invite), Some("+14255550123"));
    assert_eq!(caller_number(&invite), Some("+14255550100"));
    assert_eq!(AudioDescription::parse(&invite.body).unwrap(), audio(30000));

    call.receive(t0, &Message::response_to(&invite, 100, "Trying", None));
    call.receive(
        t0,
        &Message::response_to(&invite, 180, "Ringing", Some("theirs")),
    );
    let ok = answered(&invite);
    call.receive(t0, &ok);
    assert_eq!(
        events(&mut call),
        [
            CallEvent::Trying,
            CallEvent::Ringing,
            CallEvent::Answered(audio(40000))
        ]
    );
    let [ack] = sent(&mut call).try_into().unwrap();
    assert_eq!(ack.method(), Some(Method::Ack));
    assert_eq!(ack.cseq(), Some((1, Method::Ack)));
    assert_eq!(ack.to_tag(), Some("theirs"));
    assert_ne!(
        ack.branch(),
        invite.branch(),
        "a 2xx ACK is a transaction of its own"
    );
    assert_eq!(
        ack.headers("Route").collect::<Vec<_>>(),
        ["<sip:proxy2;lr>", "<sip:proxy1;lr>"]
    );
    assert!(call.is_confirmed());

    // A retransmitted 200 is ACKed again, and nothing else happens.
    call.receive(t0, &ok);
    assert_eq!(sent_methods(&mut call), [Method::Ack]);
    assert!(events(&mut call).is_empty());

    call.hang_up(t0);
    let [bye] = sent(&mut call).try_into().unwrap();
    assert_eq!(bye.cseq(), Some((2, Method::Bye)));
    assert_eq!(bye.to_tag(), Some("theirs"));
    assert!(
        matches!(&bye.start, rtcall_sip::message::StartLine::Request { uri, .. } if uri == "sip:phone@127.0.0.1:5060")
    );
    assert_eq!(events(&mut call), [CallEvent::Ended(EndCause::LocalHangUp)]);
    assert!(!call.is_done(), "the BYE waits for its answer");
    // Unanswered, the BYE goes again after T1.
    call.handle_timeout(t0 + Duration::from_millis(500));
    assert_eq!(sent_methods(&mut call), [Method::Bye]);
    call.receive(t0, &Message::response_to(&bye, 200, "OK", None));
    assert!(call.is_done());
}

#[test]
fn busy_is_acked_in_the_invite_transaction_and_ends_with_the_code() {
    let t0 = Instant::now();
    let (mut call, invite) = dialled(t0);
    call.receive(
        t0,
        &Message::response_to(&invite, 486, "Busy Here", Some("theirs")),
    );
    let [ack] = sent(&mut call).try_into().unwrap();
    assert_eq!(ack.method(), Some(Method::Ack));
    assert_eq!(
        ack.branch(),
        invite.branch(),
        "a non-2xx ACK shares the INVITE's branch"
    );
    assert_eq!(ack.to_tag(), Some("theirs"));
    let ended = events(&mut call);
    assert_eq!(
        ended,
        [CallEvent::Ended(EndCause::Rejected {
            code: 486,
            reason: "Busy Here".into()
        })]
    );
    assert_eq!(
        EndCause::Rejected {
            code: 486,
            reason: String::new()
        }
        .sip_code(),
        486
    );
    assert!(call.is_done());
}

#[test]
fn a_challenge_is_answered_once_with_a_new_cseq_and_branch() {
    let t0 = Instant::now();
    let credentials = Credentials {
        username: "rtcall".into(),
        password: "s3cret".into(),
    };
    let mut call = SipCall::dial(t0, dial(Some(credentials.clone())), &audio(30000));
    let [invite] = sent(&mut call).try_into().unwrap();
    let mut challenge =
        Message::response_to(&invite, 407, "Proxy Authentication Required", Some("x"));
    challenge.push(
        "Proxy-Authenticate",
        "Digest realm=\"trunk\", nonce=\"n1\", qop=\"auth\"",
    );
    call.receive(t0, &challenge);
    let [ack, again] = sent(&mut call).try_into().unwrap();
    assert_eq!(ack.method(), Some(Method::Ack));
    assert_eq!(again.cseq(), Some((2, Method::Invite)));
    assert_ne!(again.branch(), invite.branch());
    assert_eq!(again.call_id(), invite.call_id());
    let authorization = again.header("Proxy-Authorization").unwrap();
    assert!(authorization.starts_with("Digest username=\"rtcall\", realm=\"trunk\", nonce=\"n1\""));
    assert!(
        !format!("{credentials:?}").contains("s3cret"),
        "no password in debug output"
    );
    assert!(events(&mut call).is_empty());

    // The same nonce refused again: the credentials are wrong; the call ends with the 407.
    let mut refused = Message::response_to(&again, 407, "Proxy Authentication Required", Some("y"));
    refused.push("Proxy-Authenticate", "Digest realm=\"trunk\", nonce=\"n1\"");
    call.receive(t0, &refused);
    assert_eq!(sent_methods(&mut call), [Method::Ack]);
    assert_rejected(&mut call, 407);
}

#[test]
fn hanging_up_while_ringing_cancels_and_acks_the_487() {
    let t0 = Instant::now();
    let (mut call, invite) = dialled(t0);
    call.receive(
        t0,
        &Message::response_to(&invite, 183, "Session Progress", Some("theirs"))
            .set_body("application/sdp", audio(40000).write(1, 1))
            .clone(),
    );
    assert_eq!(events(&mut call), [CallEvent::EarlyMedia(audio(40000))]);
    call.hang_up(t0);
    let [cancel] = sent(&mut call).try_into().unwrap();
    assert_eq!(cancel.cseq(), Some((1, Method::Cancel)));
    assert_eq!(cancel.branch(), invite.branch());
    assert_eq!(cancel.to_tag(), None, "CANCEL's To is the INVITE's");
    assert_eq!(events(&mut call), [CallEvent::Ended(EndCause::LocalHangUp)]);
    call.receive(
        t0,
        &Message::response_to(&cancel, 200, "OK", Some("theirs")),
    );
    call.receive(
        t0,
        &Message::response_to(&invite, 487, "Request Terminated", Some("theirs")),
    );
    let [ack] = sent(&mut call).try_into().unwrap();
    assert_eq!(ack.cseq(), Some((1, Method::Ack)));
    assert!(events(&mut call).is_empty(), "ended once");
    assert!(call.is_done());
}

#[test]
fn hanging_up_before_any_answer_waits_for_a_provisional_to_cancel() {
    let t0 = Instant::now();
    let (mut call, invite) = dialled(t0);
    call.hang_up(t0);
    assert!(
        sent(&mut call).is_empty(),
        "no CANCEL before a provisional response"
    );
    call.receive(
        t0,
        &Message::response_to(&invite, 180, "Ringing", Some("theirs")),
    );
    assert_eq!(sent_methods(&mut call), [Method::Cancel]);
    // The 200 crossed the CANCEL: it is ACKed and closed with a BYE.
    call.receive(t0, &answered(&invite));
    assert_eq!(sent_methods(&mut call), [Method::Ack, Method::Bye]);
    assert_eq!(events(&mut call), [CallEvent::Ended(EndCause::LocalHangUp)]);
}

#[test]
fn an_unanswered_invite_is_resent_with_doubling_intervals_until_timer_b() {
    let t0 = Instant::now();
    let mut call = SipCall::dial(t0, dial(None), &audio(30000));
    sent(&mut call);
    let mut resent_at = Vec::new();
    let mut now = t0;
    while let Some(next) = call.poll_timeout() {
        now = next;
        call.handle_timeout(now);
        if !sent(&mut call).is_empty() {
            resent_at.push((now - t0).as_millis());
        }
        if call.is_done() {
            break;
        }
    }
    assert_eq!(resent_at, [500, 1500, 3500, 7500, 15500, 31500]);
    assert_eq!(now - t0, Duration::from_secs(32));
    assert_eq!(events(&mut call), [CallEvent::Ended(EndCause::Timeout)]);
    assert_eq!(EndCause::Timeout.sip_code(), 408);
}

#[test]
fn a_phone_that_rings_unanswered_is_cancelled_after_the_ring_timeout() {
    let t0 = Instant::now();
    let (mut call, invite) = dialled(t0);
    call.receive(
        t0,
        &Message::response_to(&invite, 180, "Ringing", Some("theirs")),
    );
    events(&mut call);
    let deadline = call.poll_timeout().unwrap();
    assert_eq!(deadline - t0, Duration::from_secs(60));
    call.handle_timeout(deadline);
    assert_eq!(sent_methods(&mut call), [Method::Cancel]);
    assert_rejected(&mut call, 480);
}

#[test]
fn the_phone_hanging_up_is_answered_and_reported() {
    let t0 = Instant::now();
    let (mut call, invite) = dialled(t0);
    call.receive(t0, &answered(&invite));
    sent(&mut call);
    events(&mut call);
    let mut bye = Message::request(Method::Bye, "sip:rtcall@127.0.0.1:5070");
    bye.push("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKbye")
        .push("From", "<sip:+14255550123@127.0.0.1>;tag=theirs")
        .push("To", "<sip:+14255550100@127.0.0.1>;tag=ours")
        .push("Call-ID", "call-1")
        .push("CSeq", "7 BYE");
    call.receive(t0, &bye);
    let [ok] = sent(&mut call).try_into().unwrap();
    assert_eq!((ok.code(), ok.cseq()), (Some(200), Some((7, Method::Bye))));
    assert_eq!(
        events(&mut call),
        [CallEvent::Ended(EndCause::RemoteHangUp)]
    );
    assert!(call.is_done());
}

fn incoming_invite() -> Message {
    let mut invite = Message::request(Method::Invite, "sip:+14255550100@127.0.0.1:5070");
    invite
        .push("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKin1")
        .push("From", "\"Bob\" <sip:+14255550199@trunk>;tag=caller")
        .push("To", "<sip:+14255550100@127.0.0.1>")
        .push("Call-ID", "in-1")
        .push("CSeq", "1 INVITE")
        .push("Contact", "<sip:bob@127.0.0.1:5060>")
        .set_body("application/sdp", audio(41000).write(5, 5));
    invite
}

/// The call the gateway makes of an incoming INVITE.
fn offered(t0: Instant, invite: &Message) -> SipCall {
    SipCall::incoming(t0, "127.0.0.1:5070".parse().unwrap(), invite, "ours".into())
}

/// The status codes of everything the call sent.
fn sent_codes(call: &mut SipCall) -> Vec<Option<u16>> {
    sent(call).iter().map(Message::code).collect()
}

#[test]
fn an_incoming_call_rings_answers_and_resends_the_200_until_the_ack() {
    let t0 = Instant::now();
    let invite = incoming_invite();
    let mut call = offered(t0, &invite);
    assert_eq!(call.call_id(), "in-1");
    assert_eq!(sent_codes(&mut call), [Some(100)]);
    assert_eq!(events(&mut call), [CallEvent::Offered(audio(41000))]);
    call.ring();
    let [ringing] = sent(&mut call).try_into().unwrap();
    assert_eq!(
        (ringing.code(), ringing.to_tag()),
        (Some(180), Some("ours"))
    );
    call.answer(
        t0,
        &audio(30000).answer("127.0.0.1".parse().unwrap(), 30000),
    );
    let [ok] = sent(&mut call).try_into().unwrap();
    assert_eq!(ok.code(), Some(200));
    assert_eq!(AudioDescription::parse(&ok.body).unwrap().laws, [Law::Ulaw]);
    assert!(ok.header("Contact").is_some());
    call.handle_timeout(t0 + Duration::from_millis(500));
    assert_eq!(sent_codes(&mut call), [Some(200)]);
    let mut ack = Message::request(Method::Ack, "sip:rtcall@127.0.0.1:5070");
    ack.push("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKack")
        .push("From", "<sip:+14255550199@trunk>;tag=caller")
        .push("To", "<sip:+14255550100@127.0.0.1>;tag=ours")
        .push("Call-ID", "in-1")
        .push("CSeq", "1 ACK");
    call.receive(t0, &ack);
    call.handle_timeout(t0 + Duration::from_secs(5));
    assert!(sent(&mut call).is_empty(), "no more 200s after the ACK");
    assert_eq!(call.poll_timeout(), None);

    // We hang up: the BYE goes to the caller's Contact with the tags swapped.
    call.hang_up(t0);
    let [bye] = sent(&mut call).try_into().unwrap();
    assert_eq!(bye.cseq(), Some((1, Method::Bye)));
    assert_eq!(
        (bye.from_tag(), bye.to_tag()),
        (Some("ours"), Some("caller"))
    );
}

#[test]
fn an_incoming_call_cancelled_by_the_caller_gets_200_and_487() {
    let t0 = Instant::now();
    let invite = incoming_invite();
    let mut call = offered(t0, &invite);
    sent(&mut call);
    events(&mut call);
    let mut cancel = Message::request(Method::Cancel, "sip:+14255550100@127.0.0.1:5070");
    cancel
        .push("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKin1")
        .push("From", "\"Bob\" <sip:+14255550199@trunk>;tag=caller")
        .push("To", "<sip:+14255550100@127.0.0.1>")
        .push("Call-ID", "in-1")
        .push("CSeq", "1 CANCEL");
    call.receive(t0, &cancel);
    let codes: Vec<_> = sent(&mut call)
        .iter()
        .map(|m| (m.code(), m.method()))
        .collect();
    assert_eq!(
        codes,
        [
            (Some(200), Some(Method::Cancel)),
            (Some(487), Some(Method::Invite))
        ]
    );
    assert_eq!(
        events(&mut call),
        [CallEvent::Ended(EndCause::CallerCancelled)]
    );
}

#[test]
fn an_incoming_call_without_usable_audio_is_refused_with_488() {
    let t0 = Instant::now();
    let mut invite = incoming_invite();
    invite.set_body(
        "application/sdp",
        b"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5000 RTP/AVP 111\r\n".to_vec(),
    );
    let mut call = offered(t0, &invite);
    let codes: Vec<_> = sent(&mut call).iter().map(|m| m.code()).collect();
    assert_eq!(codes, [Some(100), Some(488)]);
    assert_rejected(&mut call, 488);
}

#[test]
fn over_tcp_nothing_is_resent_and_via_says_so() {
    let t0 = Instant::now();
    let mut call = SipCall::dial(
        t0,
        Dial {
            transport: Transport::Tcp,
            ..dial(None)
        },
        &audio(30000),
    );
    let [invite] = sent(&mut call).try_into().unwrap();
    assert!(invite.header("Via").unwrap().starts_with("SIP/2.0/TCP "));
    assert!(invite
        .header("Contact")
        .unwrap()
        .ends_with(";transport=tcp>"));
    assert_eq!(Transport::of(&invite), Transport::Tcp);
    // Only timer B: at 32 s the call times out, with nothing resent before.
    assert_eq!(call.poll_timeout(), Some(t0 + Duration::from_secs(32)));
    call.handle_timeout(t0 + Duration::from_secs(32));
    assert!(sent(&mut call).is_empty());
    assert_eq!(events(&mut call), [CallEvent::Ended(EndCause::Timeout)]);
}
