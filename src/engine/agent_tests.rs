//! The agent on virtual time: session life (sign-in, refusal, loss, reconnect backoff,
//! heartbeat), requests, and call and roster changes from server events. Resuming a lost
//! session is in `agent_resume_tests.rs`.

use super::*;
use crate::engine::call::ParticipantChanges;
use rtcall_protocol::call::{ParticipantId, ParticipantState, StreamKind};
use rtcall_protocol::features::Role;
use rtcall_protocol::signal::{ParticipantInfo, RemovedParticipant, StreamInfo};
use serde_json::json;

struct Harness {
    agent: Agent,
    now: Millis,
    sent: Vec<serde_json::Value>,
    events: Vec<AgentEvent>,
    connects: u32,
    closes: u32,
    leaves: u32,
}

impl Harness {
    fn new() -> Self {
        let mut h = Harness {
            agent: Agent::new("Ada".into(), 1000),
            now: 1000,
            sent: Vec::new(),
            events: Vec::new(),
            connects: 0,
            closes: 0,
            leaves: 0,
        };
        h.drain();
        h
    }

    /// An agent signed in to a service that does not resume sessions.
    fn ready() -> Self {
        Self::welcomed(json!({}))
    }

    /// An agent signed in with a welcome that has `extra` fields.
    fn welcomed(extra: serde_json::Value) -> Self {
        let mut h = Self::new();
        h.agent.handle_open(h.now, "token".into());
        h.drain();
        h.welcome(extra);
        h.sent.clear();
        h.events.clear();
        h
    }

    /// Answers the last hello with a welcome that has `extra` fields.
    fn welcome(&mut self, extra: serde_json::Value) {
        let hello = self.sent.last().unwrap()["id"].as_u64().unwrap();
        let mut welcome = json!({"identity": "8:acs:r_ada", "endpointId": "1", "heartbeatIntervalMs": 2000, "version": 1});
        for (k, v) in extra.as_object().unwrap() {
            welcome[k] = v.clone();
        }
        self.frame(json!({"re": hello, "ok": {"welcome": welcome}}));
    }

    fn drain(&mut self) -> Millis {
        loop {
            match self.agent.poll_output() {
                Output::Connect => self.connects += 1,
                Output::Send(frame) => self.sent.push(serde_json::to_value(&frame).unwrap()),
                Output::Close => self.closes += 1,
                Output::Leave => self.leaves += 1,
                Output::Event(e) => self.events.push(e),
                Output::Timeout(at) => return at,
            }
        }
    }

    fn frame(&mut self, frame: serde_json::Value) {
        let frame = crate::engine::wire::read_frame(&frame).expect("a server frame");
        self.agent.handle_frame(self.now, frame);
        self.drain();
    }

    fn advance_to(&mut self, at: Millis) {
        self.now = at;
        self.agent.handle_timeout(at);
        self.drain();
    }

    fn call_changes(&mut self) -> Vec<CallChange> {
        std::mem::take(&mut self.events)
            .into_iter()
            .filter_map(|e| match e {
                AgentEvent::Call { change, .. } => Some(change),
                _ => None,
            })
            .collect()
    }
}

fn info(id: u32, identity: &str, state: ParticipantState, muted: bool) -> ParticipantInfo {
    ParticipantInfo {
        participant_id: ParticipantId(id),
        identity: identity.into(),
        display_name: identity.to_uppercase(),
        state,
        muted,
        speaking: false,
        streams: vec![StreamInfo {
            stream_id: StreamId(id * 2),
            kind: StreamKind::Video,
            available: false,
        }],
        reconnecting: false,
        role: Default::default(),
    }
}

fn participants(
    upsert: Vec<ParticipantInfo>,
    removed: Vec<RemovedParticipant>,
) -> serde_json::Value {
    let event: Event = Event::Participants {
        call_id: CallId("c".into()),
        upsert,
        removed,
    };
    json!({"ev": serde_json::to_value(event).unwrap()})
}

fn call_state(state: &str, end: Option<EndReason>) -> serde_json::Value {
    let mut ev = json!({"callId": "c", "state": state, "participantId": 0});
    if let Some(end) = end {
        ev["endReason"] = serde_json::to_value(end).unwrap();
    }
    json!({ "ev": { "callState": ev } })
}

#[test]
fn signing_in_sends_hello_then_queued_requests_and_pings() {
    let mut h = Harness::new();
    assert_eq!(h.connects, 1);
    let id = h.agent.join_group("g".into(), false, false);
    assert!(h.sent.is_empty(), "nothing before the socket opens");
    h.agent.handle_open(h.now, "secret".into());
    h.drain();
    assert!(h.sent[0]["req"]["hello"].is_object());
    assert_eq!(h.sent[0]["req"]["hello"]["token"], "secret");
    assert_eq!(h.sent[0]["req"]["hello"]["displayName"], "Ada");
    let hello = h.sent[0]["id"].clone();
    h.frame(json!({"re": hello, "ok": {"welcome": {"identity": "8:acs:r_ada", "endpointId": "1", "heartbeatIntervalMs": 2000, "version": 1}}}));
    assert!(h
        .events
        .iter()
        .any(|e| matches!(e, AgentEvent::SignedIn { identity, .. } if identity == "8:acs:r_ada")));
    assert!(h.events.contains(&AgentEvent::ConnectionChanged {
        new: ConnectionState::Connected,
        old: ConnectionState::Disconnected,
        reason: None
    }));
    assert_eq!(h.sent[1]["id"], id);
    assert!(h.sent[1]["req"]["joinGroup"].is_object());
    let next = h.drain();
    assert_eq!(next, h.now + 2000, "the next ping");
    h.advance_to(next);
    assert_eq!(h.sent.last().unwrap()["req"], "ping");
}

#[test]
fn a_refused_token_disconnects_for_good() {
    let mut h = Harness::new();
    h.agent.handle_open(h.now, "bad".into());
    h.drain();
    let hello = h.sent[0]["id"].clone();
    h.frame(json!({"re": hello, "err": {"code": 401, "subCode": 40102, "message": "the access token has expired"}}));
    assert!(matches!(&h.events[0], AgentEvent::Refused(e) if e.is(ErrorKind::TokenExpired)));
    assert_eq!(h.closes, 1);
    assert_eq!(h.agent.connection_state(), ConnectionState::Disconnected);
    assert_eq!(h.drain(), Millis::MAX, "no reconnect scheduled");
}

#[test]
fn without_a_resume_secret_a_lost_connection_ends_calls_and_reconnects_with_backoff() {
    let mut h = Harness::ready();
    h.agent.join_group("c".into(), false, false);
    h.frame(call_state("Connected", None));
    h.events.clear();
    let pending = h.agent.request(Request::SetHold {
        call_id: CallId("c".into()),
        hold: true,
    });
    h.drain();
    h.agent.handle_closed(h.now);
    h.drain();
    assert!(h.events.contains(&AgentEvent::ConnectionChanged {
        new: ConnectionState::Disconnected,
        old: ConnectionState::Connected,
        reason: Some(ConnectionReason::ConnectionIssue)
    }));
    assert!(h.events.iter().any(
        |e| matches!(e, AgentEvent::Replied { request, result: Err(_) } if *request == pending)
    ));
    let states: Vec<_> = h
        .call_changes()
        .into_iter()
        .filter(|c| matches!(c, CallChange::State(..)))
        .collect();
    assert_eq!(
        states,
        [
            CallChange::State(CallState::Disconnecting, None),
            CallChange::State(CallState::Disconnected, Some(EndReason::NETWORK_LOST))
        ]
    );
    // Retries at 0.25 s, 0.5 s, 1 s after each failure.
    let mut delays = Vec::new();
    let connects = h.connects;
    for _ in 0..3 {
        let at = h.drain();
        delays.push(at - h.now);
        h.advance_to(at);
        h.agent.handle_closed(h.now);
    }
    assert_eq!(delays, [250, 500, 1000]);
    assert_eq!(h.connects, connects + 3);
}

#[test]
fn a_socket_that_does_not_open_is_given_up_and_tried_again() {
    let mut h = Harness::new();
    assert_eq!(h.connects, 1);
    let at = h.drain();
    assert_eq!(at, h.now + OPEN_TIMEOUT);
    h.advance_to(at);
    assert_eq!(h.closes, 1, "the hanging attempt is closed");
    let at = h.drain();
    h.advance_to(at);
    assert_eq!(h.connects, 2);
}

#[test]
fn a_request_without_reply_fails_after_the_timeout() {
    let mut h = Harness::ready();
    let id = h.agent.request(Request::SetMuted {
        call_id: CallId("c".into()),
        muted: true,
    });
    h.drain();
    h.advance_to(h.now + REQUEST_TIMEOUT);
    assert!(h
        .events
        .iter()
        .any(|e| matches!(e, AgentEvent::Replied { request, result: Err(_) } if *request == id)));
}

#[test]
fn a_call_and_its_roster_follow_the_server() {
    let mut h = Harness::ready();
    h.agent
        .start_call(CallId("c".into()), vec!["8:acs:r_bob".into()], false, None);
    h.drain();
    assert!(h.sent[0]["req"]["startCall"].is_object());
    h.frame(call_state("Connecting", None));
    // The roster names us too; we are not our own remote participant.
    h.frame(participants(
        vec![
            info(0, "8:acs:r_ada", ParticipantState::Connecting, false),
            info(1, "8:acs:r_bob", ParticipantState::Ringing, false),
        ],
        vec![],
    ));
    h.frame(call_state("Ringing", None));
    let changes = h.call_changes();
    assert_eq!(changes[0], CallChange::State(CallState::Connecting, None));
    assert!(
        matches!(&changes[1], CallChange::Added(added) if added.len() == 1 && added[0].identity == "8:acs:r_bob")
    );
    assert_eq!(changes[2], CallChange::State(CallState::Ringing, None));

    h.frame(participants(
        vec![info(1, "8:acs:r_bob", ParticipantState::Connected, true)],
        vec![],
    ));
    let changes = h.call_changes();
    assert!(
        matches!(&changes[..], [CallChange::Participant(p, ParticipantChanges { state: true, muted: true, .. })] if p.state == ParticipantState::Connected)
    );

    h.frame(json!({"ev": {"speaking": {"callId": "c", "participantId": 1, "speaking": true}}}));
    h.frame(json!({"ev": {"dominantSpeakers": {"callId": "c", "ranked": [1, 0]}}}));
    let changes = h.call_changes();
    assert!(
        matches!(&changes[0], CallChange::Participant(p, ParticipantChanges { speaking: true, .. }) if p.speaking)
    );
    assert_eq!(
        changes[1],
        CallChange::DominantSpeakers(vec![ParticipantId(1), ParticipantId(0)])
    );
    assert_eq!(
        h.agent.call(&CallId("c".into())).unwrap().dominant,
        [ParticipantId(1), ParticipantId(0)]
    );
    // A roster frame carries speaking too (what a joiner learns of those already speaking):
    // this one says bob has stopped.
    h.frame(participants(
        vec![info(1, "8:acs:r_bob", ParticipantState::Connected, true)],
        vec![],
    ));
    let changes = h.call_changes();
    assert!(
        matches!(&changes[..], [CallChange::Participant(p, ParticipantChanges { speaking: true, state: false, .. })] if !p.speaking)
    );

    h.frame(participants(
        vec![],
        vec![RemovedParticipant {
            participant_id: ParticipantId(1),
            end_reason: EndReason::HUNG_UP,
        }],
    ));
    let changes = h.call_changes();
    assert!(
        matches!(&changes[..], [CallChange::Participant(p, _), CallChange::Removed(gone)] if p.state == ParticipantState::Disconnected && gone[0].end_reason == Some(EndReason::HUNG_UP))
    );

    h.frame(call_state("Disconnecting", None));
    h.frame(call_state("Disconnected", Some(EndReason::HUNG_UP)));
    assert_eq!(
        h.call_changes(),
        [
            CallChange::State(CallState::Disconnecting, None),
            CallChange::State(CallState::Disconnected, Some(EndReason::HUNG_UP))
        ]
    );
    assert!(
        h.agent.call(&CallId("c".into())).is_none(),
        "ended calls are forgotten"
    );
}

#[test]
fn incoming_calls_ring_and_stop() {
    let mut h = Harness::ready();
    h.frame(json!({"ev": {"incomingCall": {"callId": "c", "caller": "8:acs:r_bob", "callerDisplayName": "Bob"}}}));
    assert!(matches!(&h.events[0], AgentEvent::IncomingCall(m) if m.caller == "8:acs:r_bob"));
    h.frame(json!({"ev": {"incomingCallEnded": {"callId": "c", "reason": {"code": 487, "subCode": 0}}}}));
    assert_eq!(
        h.events[1],
        AgentEvent::IncomingCallEnded {
            call_id: CallId("c".into()),
            reason: EndReason::CANCELLED
        }
    );
    assert!(h.agent.incoming(&CallId("c".into())).is_none());
}

#[test]
fn role_soft_mute_features_and_a_transfer_reach_the_call() {
    let mut h = Harness::ready();
    h.agent.join_group("c".into(), false, true);
    h.drain();
    assert_eq!(h.sent[0]["req"]["joinGroup"]["lobby"], true);
    h.frame(call_state("Connected", None));
    h.events.clear();
    h.frame(json!({"ev": {"role": {"callId": "c", "role": "Organizer"}}}));
    h.frame(json!({"ev": {"mutedByOthers": {"callId": "c"}}}));
    h.frame(json!({"ev": {"feature": {"callId": "c", "event": {"reaction": {"participantId": 1, "reaction": "like"}}}}}));
    let changes = h.call_changes();
    assert_eq!(changes[0], CallChange::Role(Role::Organizer));
    assert_eq!(
        changes[1..3],
        [CallChange::Muted(true), CallChange::MutedByOthers]
    );
    let CallChange::Feature(RawJson(text)) = &changes[3] else {
        panic!("{changes:?}");
    };
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(text).unwrap(),
        json!({"reaction": {"participantId": 1, "reaction": "like"}})
    );
    assert!(h.agent.call(&CallId("c".into())).unwrap().muted);
    // Muted already: a second soft mute changes nothing but says so.
    h.frame(json!({"ev": {"mutedByOthers": {"callId": "c"}}}));
    assert_eq!(h.call_changes(), [CallChange::MutedByOthers]);

    // Handed over: the new call exists before its first event, muted as the first was.
    h.frame(json!({"ev": {"transferred": {"callId": "c", "targetCallId": "t1-c", "target": "8:acs:r_carol"}}}));
    assert!(h.events.iter().any(|e| matches!(e, AgentEvent::Transferred { target_call_id, .. } if target_call_id.0 == "t1-c")));
    let new = h.agent.call(&CallId("t1-c".into())).expect("the new call");
    assert!(new.muted);
    h.events.clear();
    h.frame(json!({"ev": {"callState": {"callId": "t1-c", "state": "Connecting"}}}));
    assert_eq!(
        h.call_changes(),
        [CallChange::State(CallState::Connecting, None)]
    );
}

#[test]
fn an_accepted_call_is_connecting_at_once() {
    let mut h = Harness::ready();
    h.frame(json!({"ev": {"incomingCall": {"callId": "c", "caller": "8:acs:r_bob", "callerDisplayName": "Bob"}}}));
    h.agent.accept(CallId("c".into()), false);
    h.drain();
    let call = h
        .agent
        .call(&CallId("c".into()))
        .expect("the accepted call");
    assert_eq!(call.state, CallState::Connecting);
    h.events.clear();
    // The service's own Connecting is no change.
    h.frame(json!({"ev": {"callState": {"callId": "c", "state": "Connecting"}}}));
    assert_eq!(h.call_changes(), []);
}

#[test]
fn muting_is_local_at_once_and_reported() {
    let mut h = Harness::ready();
    h.agent.join_group("c".into(), false, false);
    h.drain();
    h.sent.clear();
    assert!(h.agent.set_muted(&CallId("c".into()), true).is_some());
    assert!(
        h.agent.set_muted(&CallId("c".into()), true).is_none(),
        "no change, no request"
    );
    h.drain();
    assert_eq!(h.sent.len(), 1);
    assert!(h.sent[0]["req"]["setMuted"].is_object());
    assert!(h.call_changes().contains(&CallChange::Muted(true)));
}

#[test]
fn a_disposed_agent_refuses_requests_and_never_reconnects() {
    let mut h = Harness::ready();
    h.agent.dispose();
    h.drain();
    assert_eq!((h.closes, h.leaves), (0, 1), "a goodbye, not a loss");
    let id = h.agent.request(Request::Ping);
    h.drain();
    assert!(h.events.iter().any(|e| matches!(e, AgentEvent::Replied { request, result: Err(err) } if *request == id && err.is(ErrorKind::WrongState))));
    h.agent.handle_closed(h.now);
    assert_eq!(h.drain(), Millis::MAX);
}

#[test]
fn replies_to_nothing_and_events_of_unknown_calls_are_ignored() {
    let mut h = Harness::ready();
    h.frame(json!({"re": 999, "ok": "done"}));
    h.frame(call_state("Connected", None));
    assert!(h.events.is_empty());
}

#[test]
fn an_error_answering_no_request_while_greeting_refuses_the_hello() {
    let mut h = Harness::new();
    h.agent.handle_open(h.now, "forged".into());
    h.drain();
    h.frame(json!({"err": {"code": 401, "subCode": 40101, "message": "the access token's signature is invalid"}}));
    assert!(matches!(&h.events[0], AgentEvent::Refused(e) if e.is(ErrorKind::InvalidToken)));
    assert_eq!(h.closes, 1);
    assert_eq!(h.drain(), Millis::MAX, "no reconnect with a refused token");
}

#[path = "agent_resume_tests.rs"]
mod resume;

#[test]
fn after_a_panic_in_a_call_that_call_ends_and_the_others_go_on() {
    let mut h = Harness::ready();
    h.agent.join_group("c".into(), false, false);
    h.agent.join_group("d".into(), false, false);
    h.drain();
    h.sent.clear();
    h.events.clear();
    let c = CallId("c".into());
    // As in the browser, nothing is unwound: the agent is left as the panic found it.
    let agent = std::panic::AssertUnwindSafe(&mut h.agent);
    let panicked = std::panic::catch_unwind(move || {
        let agent = agent;
        agent.0.within_call(&c, |call| {
            // Cut short after it said it ended, before anyone heard.
            call.state = CallState::Disconnected;
            panic!("a bug")
        });
    });
    assert!(panicked.is_err());
    h.agent.recover();
    h.drain();
    assert!(h.sent[0]["req"]["hangUp"]["callId"] == "c", "{:?}", h.sent);
    assert!(h.events.iter().any(|e| matches!(e,
        AgentEvent::Call { call_id, change: CallChange::State(CallState::Disconnected, Some(reason)) }
            if call_id.0 == "c" && *reason == EndReason::LIBRARY_FAULT)));
    assert!(h.agent.call(&CallId("c".into())).is_none());
    h.events.clear();
    h.frame(
        json!({"ev": {"callState": {"callId": "d", "state": "Connected", "participantId": 1}}}),
    );
    assert!(h
        .call_changes()
        .contains(&CallChange::State(CallState::Connected, None)));
    // A panic outside any call: the agent shuts down, its calls ending as failed.
    h.events.clear();
    h.agent.recover();
    h.drain();
    assert_eq!(h.leaves, 1);
    assert!(h.call_changes().contains(&CallChange::State(
        CallState::Disconnected,
        Some(EndReason::LIBRARY_FAULT)
    )));
    assert_eq!(h.agent.connection_state(), ConnectionState::Disconnected);
}
