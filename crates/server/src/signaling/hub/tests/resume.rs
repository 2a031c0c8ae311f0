//! Endpoints that lose their sockets: their calls wait for them through the resume window, the
//! others see them reconnecting with their state unchanged, and then they are back or gone.

use super::*;

/// The participants `events` upserted, as (id, state, reconnecting).
fn reconnecting(events: &[Event]) -> Vec<(u32, ParticipantState, bool)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Participants { upsert, .. } => Some(upsert),
            _ => None,
        })
        .flatten()
        .map(|p| (p.participant_id.0, p.state, p.reconnecting))
        .collect()
}

/// A, B and C in group call g1, all connected.
fn group_of_three() -> Harness {
    let mut h = Harness::cast();
    for (endpoint, pid) in [(A, 0), (B, 1), (C, 2)] {
        join(&mut h, endpoint, "g1");
        h.media_connected("g1", pid);
    }
    for e in [A, B, C] {
        h.events(e);
    }
    h.take_media();
    h
}

#[test]
fn a_lost_socket_keeps_the_participant_in_its_calls_shown_as_reconnecting() {
    let mut h = group_of_three();
    h.hub.handle_disconnect(h.now, C);
    assert_eq!(
        reconnecting(&h.events(A)),
        [(2, ParticipantState::Connected, true)]
    );
    // Nothing closes: its media keeps flowing if only the socket broke.
    assert!(h.take_media().is_empty());
    // A second loss report (another path noticed it too) changes nothing.
    h.hub.handle_disconnect(h.now, C);
    assert!(h.events(A).is_empty());
    h.advance(Duration::from_secs(20));
    h.hub.handle_resume(h.now, C);
    assert_eq!(
        reconnecting(&h.events(A)),
        [(2, ParticipantState::Connected, false)]
    );
    // C's own call never changed state, and the window no longer runs.
    assert!(h.call_states(C).is_empty());
    h.advance(Duration::from_secs(60));
    assert!(h.events(A).is_empty());
    assert!(h.gone.is_empty());
}

#[test]
fn after_the_window_the_participant_leaves_with_0_4521_and_is_gone() {
    let mut h = group_of_three();
    h.hub.handle_disconnect(h.now, C);
    h.events(A);
    h.advance(Duration::from_secs(29));
    assert!(roster(&h.events(A)).is_empty());
    h.advance(Duration::from_secs(2));
    left_abruptly(&mut h, A, "g1", 2);
    assert_eq!(h.gone, [C]);
    // Gone means gone: a late resume finds nothing, and B and A are still in the call.
    h.hub.handle_resume(h.now, C);
    assert!(h.events(A).is_empty());
    assert_eq!(h.hub.call_count(), 1);
}

#[test]
fn a_one_to_one_call_waits_for_the_callee_to_come_back() {
    let mut h = Harness::cast();
    start(&mut h, A, "c1", &["bob"]);
    accept(&mut h, B, "c1");
    h.media_connected("c1", 0);
    h.media_connected("c1", 1);
    h.events(A);
    h.hub.handle_disconnect(h.now, B);
    h.advance(Duration::from_secs(10));
    let events = h.events(A);
    assert!(states_in(&events).is_empty(), "{events:?}");
    assert_eq!(
        reconnecting(&events),
        [(1, ParticipantState::Connected, true)]
    );
    h.hub.handle_resume(h.now, B);
    h.ok(
        B,
        Request::SetMuted {
            call_id: call("c1"),
            muted: true,
        },
    );
    assert_eq!(h.hub.call_count(), 1);
}

#[test]
fn an_invitation_keeps_ringing_on_an_endpoint_away_and_stops_when_it_is_gone() {
    let mut h = Harness::new();
    h.connect(A, "alice");
    h.connect(B, "bob");
    start(&mut h, A, "c1", &["bob"]);
    h.events(A);
    h.events(B);
    h.hub.handle_disconnect(h.now, B);
    h.advance(Duration::from_secs(5));
    // Still ringing there: it can accept once it is back.
    assert!(h.call_states(A).is_empty());
    h.hub.handle_resume(h.now, B);
    accept(&mut h, B, "c1");
    // And with no resume, the invitation ends when the window does.
    let mut h = Harness::new();
    h.connect(A, "alice");
    h.connect(B, "bob");
    start(&mut h, A, "c1", &["bob"]);
    h.events(A);
    h.hub.handle_disconnect(h.now, B);
    h.advance(Duration::from_secs(31));
    assert_eq!(h.call_states(A), ended(EndReason::NO_ENDPOINT));
}

#[test]
fn without_a_window_a_lost_socket_leaves_at_once() {
    let mut h = Harness::with_config(HubConfig {
        resume_window: Duration::ZERO,
        ..HubConfig::default()
    });
    h.connect(A, "alice");
    h.connect(C, "carol");
    join(&mut h, A, "g1");
    join(&mut h, C, "g1");
    h.events(A);
    h.hub.handle_disconnect(h.now, C);
    assert_eq!(
        roster(&h.events(A)),
        [(
            1,
            ParticipantState::Disconnected,
            Some(EndReason::LEFT_ABRUPTLY)
        )]
    );
    assert_eq!(h.gone, [C]);
}

#[test]
fn lost_media_shows_the_participant_reconnecting_until_it_is_restored() {
    let mut h = group_of_three();
    h.hub
        .handle_media(h.now, MediaEvent::Interrupted { leg: leg("g1", 1) });
    assert_eq!(
        reconnecting(&h.events(A)),
        [(1, ParticipantState::Connected, true)]
    );
    // Lost signaling as well, then back: still reconnecting until the media is too.
    h.hub.handle_disconnect(h.now, B);
    h.hub.handle_resume(h.now, B);
    assert!(reconnecting(&h.events(A)).iter().all(|(_, _, r)| *r));
    h.hub
        .handle_media(h.now, MediaEvent::Restored { leg: leg("g1", 1) });
    assert_eq!(
        reconnecting(&h.events(A)),
        [(1, ParticipantState::Connected, false)]
    );
}

#[test]
fn an_ice_restart_is_asked_of_the_sfu_for_the_endpoint_own_leg_only() {
    let mut h = group_of_three();
    h.ok(
        B,
        Request::RestartIce {
            call_id: call("g1"),
        },
    );
    assert_eq!(
        h.take_media(),
        [MediaCommand::RestartIce { leg: leg("g1", 1) }]
    );
    let elsewhere = h.request(
        B,
        Request::RestartIce {
            call_id: call("nope"),
        },
    );
    assert!(elsewhere.unwrap_err().is(ErrorKind::CallNotFound));
    assert!(h.take_media().is_empty());
}
