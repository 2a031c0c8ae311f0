//! A lost socket on virtual time: the session resumes with what it missed and what the service
//! did not take; a silent socket counts as lost; past the window calls end; a session the
//! service no longer has is started afresh and its group calls joined again.

use super::*;

const WINDOW: Millis = 30_000;

/// Signed in to a service that resumes sessions, in group call `c` (connected) with Bob, and
/// having received frame 5.
fn in_a_call() -> Harness {
    let mut h = Harness::welcomed(json!({"resumeSecret": "s1", "resumeWindowMs": WINDOW}));
    h.agent.join_group("c".into(), false, false);
    h.frame(json!({"seq": 4, "ev": {"callState": {"callId": "c", "state": "Connected", "participantId": 0}}}));
    let mut bob = participants(
        vec![info(1, "8:acs:r_bob", ParticipantState::Connected, false)],
        vec![],
    );
    bob["seq"] = json!(5);
    h.frame(bob);
    h.sent.clear();
    h.events.clear();
    h
}

/// Loses the socket and waits for the agent to ask for a new one.
fn lose_and_reconnect(h: &mut Harness) {
    h.agent.handle_closed(h.now);
    let connects = h.connects;
    let at = h.drain();
    h.advance_to(at);
    assert_eq!(h.connects, connects + 1, "a new socket is asked for");
    h.agent.handle_open(h.now, "token2".into());
    h.drain();
}

/// The socket is lost and the service no longer has the session: the agent signs in afresh.
fn restarted(h: &mut Harness) {
    lose_and_reconnect(h);
    let resume = h.sent.last().unwrap()["id"].clone();
    h.frame(json!({"re": resume, "err": {"code": 410, "subCode": 41001, "message": "gone"}}));
    h.welcome(json!({"endpointId": "7", "resumeSecret": "n1", "resumeWindowMs": WINDOW}));
}

fn last_hello(h: &Harness) -> &serde_json::Value {
    h.sent
        .iter()
        .rev()
        .find(|f| f["req"]["hello"].is_object())
        .map(|f| &f["req"]["hello"])
        .expect("a hello")
}

fn replied_err(h: &Harness, id: RequestId) -> bool {
    h.events
        .iter()
        .any(|e| matches!(e, AgentEvent::Replied { request, result: Err(_) } if *request == id))
}

#[test]
fn a_lost_socket_keeps_the_call_and_resumes_the_session_with_what_it_missed() {
    let mut h = in_a_call();
    lose_and_reconnect(&mut h);
    assert_eq!(
        h.agent.connection_state(),
        ConnectionState::Disconnected,
        "the app hears of the loss"
    );
    assert!(h.call_changes().is_empty(), "the call is untouched");
    assert_eq!(
        last_hello(&h)["resume"],
        json!({"endpointId": "1", "secret": "s1", "lastSeq": 5})
    );
    h.welcome(json!({"resumeSecret": "s2", "resumeWindowMs": WINDOW, "resumed": true}));
    assert_eq!(h.agent.connection_state(), ConnectionState::Connected);
    // What it missed follows; a frame it had already is not applied twice.
    let mut muted = participants(
        vec![info(1, "8:acs:r_bob", ParticipantState::Connected, true)],
        vec![],
    );
    muted["seq"] = json!(9);
    h.frame(muted.clone());
    h.frame(muted);
    let changes = h.call_changes();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert!(matches!(&changes[0], CallChange::Participant(p, _) if p.muted));
    // Frames acknowledge what arrived; the next resume uses the new secret.
    let at = h.drain();
    h.advance_to(at);
    assert_eq!(h.sent.last().unwrap()["ack"], 9);
    lose_and_reconnect(&mut h);
    assert_eq!(last_hello(&h)["resume"]["secret"], "s2");
    assert_eq!(last_hello(&h)["resume"]["lastSeq"], 9);
}

#[test]
fn requests_the_service_did_not_take_are_sent_again_after_the_resume() {
    let mut h = in_a_call();
    let taken = h.agent.request(Request::SetHold {
        call_id: CallId("c".into()),
        hold: true,
    });
    let lost = h.agent.request(Request::SetHold {
        call_id: CallId("c".into()),
        hold: false,
    });
    h.drain();
    lose_and_reconnect(&mut h);
    let later = h.agent.request(Request::SetMuted {
        call_id: CallId("c".into()),
        muted: true,
    });
    h.drain();
    let before = h.sent.len();
    h.welcome(json!({"resumeSecret": "s2", "resumeWindowMs": WINDOW, "resumed": true, "lastRequest": taken}));
    let ids: Vec<u64> = h.sent[before..]
        .iter()
        .map(|f| f["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [u64::from(lost), u64::from(later)]);
    assert!(
        !replied_err(&h, taken),
        "its reply comes with what was missed"
    );
    h.frame(json!({"seq": 6, "re": taken, "ok": "done"}));
    assert!(h.events.contains(&AgentEvent::Replied {
        request: taken,
        result: Ok(Reply::Done)
    }));
}

#[test]
fn a_silent_socket_is_closed_and_the_session_resumed() {
    let mut h = in_a_call();
    let closes = h.closes;
    // Pings go out, nothing comes back: two heartbeats and a second later the socket is lost.
    let lost_at = h.now + 2 * 2000 + 1000;
    while h.closes == closes {
        let at = h.drain();
        assert!(at <= lost_at, "lost by {lost_at}, not {at}");
        h.advance_to(at);
    }
    assert_eq!(h.now, lost_at);
    assert_eq!(h.agent.connection_state(), ConnectionState::Disconnected);
    assert!(h.call_changes().is_empty());
    let at = h.drain();
    assert_eq!(at - h.now, RECONNECT_FIRST);
}

#[test]
fn reconnects_back_off_to_two_seconds_while_the_session_can_be_resumed() {
    let mut h = in_a_call();
    h.agent.handle_closed(h.now);
    let mut delays = Vec::new();
    for _ in 0..5 {
        let at = h.drain();
        delays.push(at - h.now);
        h.advance_to(at);
        h.agent.handle_closed(h.now);
    }
    assert_eq!(delays, [250, 500, 1000, 2000, 2000]);
}

#[test]
fn past_the_window_calls_rings_and_requests_end_as_lost_to_the_network() {
    let mut h = in_a_call();
    h.frame(json!({"seq": 6, "ev": {"incomingCall": {"callId": "r", "caller": "8:acs:r_cy", "callerDisplayName": "Cy"}}}));
    let pending = h.agent.request(Request::SetHold {
        call_id: CallId("c".into()),
        hold: true,
    });
    h.drain();
    let last_heard = h.now;
    h.agent.handle_closed(h.now);
    h.events.clear();
    // The service stays unreachable.
    while h.agent.call(&CallId("c".into())).is_some() {
        let at = h.drain();
        h.advance_to(at);
        h.agent.handle_closed(h.now);
    }
    assert!(h.now >= last_heard + WINDOW && h.now < last_heard + WINDOW + 2000);
    assert!(replied_err(&h, pending));
    assert!(h.events.contains(&AgentEvent::IncomingCallEnded {
        call_id: CallId("r".into()),
        reason: EndReason::NETWORK_LOST
    }));
    let states: Vec<CallChange> = h
        .call_changes()
        .into_iter()
        .filter(|c| matches!(c, CallChange::State(..)))
        .collect();
    assert_eq!(
        states.last(),
        Some(&CallChange::State(
            CallState::Disconnected,
            Some(EndReason::NETWORK_LOST)
        ))
    );
    // The next sign-in starts afresh.
    let at = h.drain();
    h.advance_to(at);
    h.agent.handle_open(h.now, "token3".into());
    h.drain();
    assert!(last_hello(&h).get("resume").is_none());
}

#[test]
fn a_session_the_service_lost_is_started_afresh_and_its_group_call_joined_again() {
    let mut h = in_a_call();
    h.agent.start_call(
        CallId("one".into()),
        vec!["8:acs:r_dee".into()],
        false,
        None,
    );
    h.agent.set_muted(&CallId("c".into()), true);
    h.drain();
    lose_and_reconnect(&mut h);
    let (connects, closes) = (h.connects, h.closes);
    let resume = h.sent.last().unwrap()["id"].clone();
    h.events.clear();
    h.frame(json!({"re": resume, "err": {"code": 410, "subCode": 41001, "message": "no such session to resume: start a new one"}}));
    // A new hello on the same socket, with the same token and nothing to resume.
    assert_eq!((h.connects, h.closes), (connects, closes));
    assert_eq!(last_hello(&h)["token"], "token2");
    assert!(last_hello(&h).get("resume").is_none());
    h.welcome(json!({"endpointId": "7", "resumeSecret": "n1", "resumeWindowMs": WINDOW}));
    // The one-to-one call cannot be joined again; the group call can, muted as it was.
    assert!(h.events.contains(&AgentEvent::Call {
        call_id: CallId("one".into()),
        change: CallChange::State(CallState::Disconnected, Some(EndReason::NETWORK_LOST)),
    }));
    assert!(h.events.contains(&AgentEvent::Rejoined {
        call_id: CallId("c".into())
    }));
    // Bob keeps his object under an id the new service's ids cannot collide with.
    let parked = ParticipantId(u32::MAX);
    assert!(h.events.contains(&AgentEvent::Call {
        call_id: CallId("c".into()),
        change: CallChange::Rekeyed {
            from: ParticipantId(1),
            to: parked
        },
    }));
    let join = h
        .sent
        .iter()
        .find(|f| f["req"]["joinGroup"].is_object())
        .expect("the group call joined again");
    assert_eq!(
        join["req"]["joinGroup"],
        json!({"groupId": "c", "muted": true})
    );
    h.events.clear();
    // Bob reappears under a new id: the same participant for the app; the call stays
    // Connected while it connects again.
    h.frame(json!({"seq": 1, "ev": {"callState": {"callId": "c", "state": "Connecting", "participantId": 3}}}));
    h.frame(participants(
        vec![info(4, "8:acs:r_bob", ParticipantState::Connected, false)],
        vec![],
    ));
    h.frame(call_state("Connected", None));
    let changes = h.call_changes();
    assert_eq!(
        changes.first(),
        Some(&CallChange::Rekeyed {
            from: parked,
            to: ParticipantId(4)
        })
    );
    assert!(
        !changes
            .iter()
            .any(|c| matches!(c, CallChange::State(..) | CallChange::Added(_))),
        "{changes:?}"
    );
    let call = h.agent.call(&CallId("c".into())).unwrap();
    assert_eq!(call.state, CallState::Connected);
    assert_eq!(
        call.participants.keys().collect::<Vec<_>>(),
        [&ParticipantId(4)]
    );
}

#[test]
fn participants_not_back_after_a_rejoin_leave_when_the_grace_ends() {
    let mut h = in_a_call();
    restarted(&mut h);
    let rejoined_at = h.now;
    h.events.clear();
    while h.call_changes().is_empty() {
        // The service answers pings, so only the grace can end anything.
        let at = h.drain();
        h.advance_to(at);
        let ping = h.sent.last().unwrap()["id"].clone();
        h.frame(json!({"re": ping, "ok": "pong"}));
        assert!(h.now <= rejoined_at + crate::engine::call::REJOIN_GRACE);
    }
    let call = h.agent.call(&CallId("c".into())).unwrap();
    assert!(call.participants.is_empty());
    assert_eq!(h.now, rejoined_at + crate::engine::call::REJOIN_GRACE);
}

#[test]
fn a_rejoin_the_service_refuses_ends_the_call() {
    let mut h = in_a_call();
    restarted(&mut h);
    let join = h
        .sent
        .iter()
        .find(|f| f["req"]["joinGroup"].is_object())
        .unwrap()["id"]
        .clone();
    h.events.clear();
    h.frame(
        json!({"re": join, "err": {"code": 403, "subCode": 40301, "message": "not permitted"}}),
    );
    assert!(h.events.contains(&AgentEvent::Call {
        call_id: CallId("c".into()),
        change: CallChange::State(CallState::Disconnected, Some(EndReason::NETWORK_LOST)),
    }));
    assert!(h.agent.call(&CallId("c".into())).is_none());
}

#[test]
fn a_call_started_while_offline_is_new_on_the_new_session_not_joined_again() {
    let mut h = in_a_call();
    lose_and_reconnect(&mut h);
    h.agent.start_call(
        CallId("later".into()),
        vec!["8:acs:r_eve".into()],
        false,
        None,
    );
    h.drain();
    let resume = h.sent.last().unwrap()["id"].clone();
    h.frame(json!({"re": resume, "err": {"code": 410, "subCode": 41001, "message": "gone"}}));
    h.events.clear();
    let before = h.sent.len();
    h.welcome(json!({"endpointId": "7", "resumeSecret": "n1", "resumeWindowMs": WINDOW}));
    let sent: Vec<&serde_json::Value> = h.sent[before..].iter().map(|f| &f["req"]).collect();
    assert_eq!(
        sent.iter().filter(|r| r["startCall"].is_object()).count(),
        1,
        "{sent:?}"
    );
    assert_eq!(
        sent.iter().filter(|r| r["joinGroup"].is_object()).count(),
        1,
        "only the old group call"
    );
    assert!(h.agent.call(&CallId("later".into())).is_some());
    assert!(!h
        .events
        .iter()
        .any(|e| matches!(e, AgentEvent::Call { call_id, .. } if call_id.0 == "later")));
}

#[test]
fn a_rejoin_lost_with_its_socket_is_sent_again_on_resume() {
    let mut h = in_a_call();
    restarted(&mut h);
    let join = h
        .sent
        .iter()
        .rev()
        .find(|f| f["req"]["joinGroup"].is_object())
        .unwrap()["id"]
        .clone();
    // The socket goes before the service takes the join; the new session resumes.
    lose_and_reconnect(&mut h);
    let before = h.sent.len();
    h.welcome(json!({"resumeSecret": "n2", "resumeWindowMs": WINDOW, "resumed": true}));
    assert!(
        h.sent[before..].iter().any(|f| f["id"] == join),
        "the join goes again"
    );
    assert!(h.agent.call(&CallId("c".into())).is_some());
}

#[test]
fn a_disposed_agent_hangs_up_says_goodbye_and_nothing_fires_later() {
    let mut h = in_a_call();
    h.agent.dispose();
    h.drain();
    assert_eq!(h.sent.last().unwrap()["req"]["hangUp"]["callId"], "c");
    assert_eq!((h.closes, h.leaves), (0, 1));
    h.events.clear();
    assert_eq!(h.drain(), Millis::MAX, "no window, no reconnect");
}
