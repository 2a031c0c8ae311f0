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

/// A group call "big" of `n` endpoints (0..n), everyone's media up, nothing left to read.
fn group_call(n: u64) -> Harness {
    let mut h = Harness::new();
    for e in 0..n {
        h.connect(e, &format!("u{e}"));
        join(&mut h, e, "big");
        h.media_connected("big", e as u32);
        h.inbox.clear();
    }
    h
}

/// What the hub sent since last asked: how many endpoints got something, and what endpoint
/// `bystander` got, in bytes as the shell serializes it.
fn sent(h: &mut Harness, bystander: EndpointId) -> (usize, usize) {
    h.drain();
    let recipients = h.inbox.values().filter(|frames| !frames.is_empty()).count();
    let bytes = h.inbox.get(&bystander).map_or(0, |frames| {
        frames
            .iter()
            .map(|f| serde_json::to_string(f).unwrap().len())
            .sum()
    });
    h.inbox.clear();
    (recipients, bytes)
}

#[test]
fn a_change_costs_each_endpoint_the_same_in_a_call_of_100_or_350() {
    let mut costs = Vec::new();
    for n in [100, 350] {
        let mut h = group_call(n);
        let mut cost = Vec::new();
        h.ok(
            50,
            Request::SetMuted {
                call_id: call("big"),
                muted: true,
            },
        );
        cost.push(sent(&mut h, 10));
        h.ok(
            50,
            Request::SetVideo {
                call_id: call("big"),
                source: VideoSource::Camera,
                on: true,
            },
        );
        cost.push(sent(&mut h, 10));
        hang_up(&mut h, 50, "big", false);
        cost.push(sent(&mut h, 10));
        // A joiner: the others get one frame of it; it gets the roster once (that grows).
        h.connect(n, "late");
        join(&mut h, n, "big");
        let (recipients, bytes) = sent(&mut h, 10);
        cost.push((recipients, bytes));
        // Everyone hears of the change; the one who changed gets its reply too, nobody more.
        assert!(
            cost.iter()
                .all(|(recipients, _)| *recipients as u64 >= n - 1),
            "{cost:?}"
        );
        costs.push(cost.into_iter().map(|(_, bytes)| bytes).collect::<Vec<_>>());
    }
    assert_eq!(costs[0], costs[1], "bytes a bystander got per change");
    assert!(costs[0].iter().all(|bytes| *bytes > 0 && *bytes < 1000));
}
