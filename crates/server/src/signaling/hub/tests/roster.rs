//! Roster deltas: what a change costs, and what a joiner is told first.

use super::*;

#[test]
fn roster_changes_are_deltas() {
    let mut h = Harness::new();
    let n = 30;
    for e in 0..n {
        h.connect(e, &format!("u{e}"));
        join(&mut h, e, "big");
        h.media_connected("big", e as u32);
    }
    for e in 0..n {
        h.events(e);
    }
    h.connect(n, "newcomer");
    join(&mut h, n, "big");
    // Everyone already in gets exactly one frame with one participant.
    for e in 0..n {
        let events = h.events(e);
        assert!(
            matches!(&events[..], [Event::Participants { upsert, removed, .. }] if upsert.len() == 1 && removed.is_empty()),
            "{events:?}"
        );
    }
    // The newcomer gets one snapshot of everyone, then its own entry.
    let events = h.events(n);
    let sizes: Vec<usize> = events
        .iter()
        .filter_map(|e| match e {
            Event::Participants { upsert, .. } => Some(upsert.len()),
            _ => None,
        })
        .collect();
    assert_eq!(sizes, [n as usize, 1]);
}

#[test]
fn a_joiner_hears_its_own_id_before_the_roster_and_who_is_speaking_already() {
    let mut h = Harness::cast();
    start(&mut h, A, "c1", &["bob"]);
    h.media_connected("c1", 0);
    h.hub.handle_media(
        h.now,
        MediaEvent::Speaking {
            leg: leg("c1", 0),
            speaking: true,
        },
    );
    h.events(B);
    accept(&mut h, B, "c1");
    let events = h.events(B);
    // Bob is participant 1; no roster frame lists him before he knows that id is his.
    let own_id_at = events
        .iter()
        .position(|e| {
            matches!(
                e,
                Event::CallState {
                    participant_id: Some(ParticipantId(1)),
                    ..
                }
            )
        })
        .expect("bob is told his participant id");
    let listed_at = events.iter().position(|e| {
        matches!(e, Event::Participants { upsert, .. } if upsert.iter().any(|p| p.participant_id == ParticipantId(1)))
    });
    assert!(listed_at.is_none_or(|at| at > own_id_at), "{events:?}");
    // Alice was already speaking: the roster says so, with no Speaking event to wait for.
    let alice = events
        .iter()
        .find_map(|e| match e {
            Event::Participants { upsert, .. } => {
                upsert.iter().find(|p| p.participant_id == ParticipantId(0))
            }
            _ => None,
        })
        .expect("bob is told about alice");
    assert!(alice.speaking);
}
