//! Call features: roles and capabilities, soft mute, raised hands, spotlights, reactions,
//! real-time text, the lobby and blind transfer, decided by the service.

use super::*;
use rtcall_protocol::features::{
    Capability, CapabilityReason, FeatureEvent, FeatureRequest, Ordered, Reaction, Role,
    TransferState,
};

fn feature(
    h: &mut Harness,
    at: EndpointId,
    id: &str,
    request: FeatureRequest,
) -> Result<Reply, WireError> {
    h.request(
        at,
        Request::Feature {
            call_id: call(id),
            request,
        },
    )
}

/// The feature events `endpoint` was sent since last asked.
fn feature_events(h: &mut Harness, endpoint: EndpointId) -> Vec<FeatureEvent> {
    h.events(endpoint)
        .into_iter()
        .filter_map(|e| match e {
            Event::Feature { event, .. } => Some(event),
            _ => None,
        })
        .collect()
}

type Capabilities = std::collections::BTreeMap<Capability, CapabilityReason>;

/// The roles `endpoint` was told since last asked, and the last capabilities.
fn rights(h: &mut Harness, endpoint: EndpointId) -> (Vec<Role>, Option<Capabilities>) {
    rights_in(h.events(endpoint))
}

/// The roles in `events`, and the last capabilities.
fn rights_in(events: Vec<Event>) -> (Vec<Role>, Option<Capabilities>) {
    let mut roles = Vec::new();
    let mut capabilities = None;
    for e in events {
        match e {
            Event::Role { role, .. } => roles.push(role),
            Event::Feature {
                event: FeatureEvent::Capabilities { capabilities: c },
                ..
            } => capabilities = Some(c),
            _ => {}
        }
    }
    (roles, capabilities)
}

fn hands(events: &[FeatureEvent]) -> Option<Vec<(u32, u32)>> {
    events.iter().rev().find_map(|e| match e {
        FeatureEvent::RaisedHands { hands } => Some(
            hands
                .iter()
                .map(
                    |Ordered {
                         participant_id,
                         order,
                     }| (participant_id.0, *order),
                )
                .collect(),
        ),
        _ => None,
    })
}

fn join_with_lobby(h: &mut Harness, at: EndpointId, group: &str) {
    h.ok(
        at,
        Request::JoinGroup {
            group_id: group.into(),
            muted: false,
            lobby: true,
        },
    );
}

#[test]
fn roles_and_capabilities_are_told_on_joining_and_when_the_call_changes() {
    let mut h = Harness::cast();
    join(&mut h, A, "g");
    join(&mut h, B, "g");
    let organizer_sees = h.events(A);
    assert!(
        organizer_sees.iter().any(|e| matches!(e, Event::Participants { upsert, .. } if upsert.iter().any(|p| p.participant_id.0 == 1 && p.role == Role::Presenter))),
        "the others see the role: {organizer_sees:?}"
    );
    let (roles, capabilities) = rights_in(organizer_sees);
    assert_eq!(roles, [Role::Organizer]);
    let capabilities = capabilities.expect("told its capabilities");
    assert_eq!(capabilities.len(), 25);
    assert_eq!(
        capabilities[&Capability::MuteOthers],
        CapabilityReason::Capable
    );
    assert_eq!(
        capabilities[&Capability::ManageLobby],
        CapabilityReason::CapabilityNotApplicableForTheCallType
    );
    assert_eq!(rights(&mut h, B).0, [Role::Presenter]);

    // A 1:1 call: no roles, and what does not apply in 1:1 says so; promoted, it applies.
    start(&mut h, A, "c", &["carol"]);
    accept(&mut h, C, "c");
    let (roles, capabilities) = rights(&mut h, C);
    assert_eq!(roles, [Role::Unknown]);
    assert_eq!(
        capabilities.unwrap()[&Capability::MuteOthers],
        CapabilityReason::CapabilityNotApplicableForTheCallType
    );
    h.ok(
        C,
        Request::AddParticipant {
            call_id: call("c"),
            target: user("bob"),
            alternate_caller_id: None,
        },
    );
    let (roles, capabilities) = rights(&mut h, C);
    assert!(roles.is_empty(), "the role did not change");
    assert_eq!(
        capabilities.unwrap()[&Capability::MuteOthers],
        CapabilityReason::Capable
    );
}

#[test]
fn muting_others_mutes_them_and_everyone_sees_it() {
    let mut h = Harness::cast();
    for e in [A, B, C] {
        join(&mut h, e, "g");
    }
    for e in [A, B, C] {
        h.events(e);
    }
    h.ok(
        A,
        Request::MuteOthers {
            call_id: call("g"),
            targets: Some(vec![user("bob")]),
        },
    );
    assert!(h
        .events(B)
        .iter()
        .any(|e| matches!(e, Event::MutedByOthers { .. })));
    let seen = h.events(C);
    assert!(seen.iter().any(|e| matches!(e, Event::Participants { upsert, .. } if upsert.iter().any(|p| p.participant_id.0 == 1 && p.muted))));
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, Event::MutedByOthers { .. })),
        "only Bob was muted"
    );
    // Everyone else: Carol (Bob is muted already, Alice asked).
    h.ok(
        A,
        Request::MuteOthers {
            call_id: call("g"),
            targets: None,
        },
    );
    assert!(h
        .events(C)
        .iter()
        .any(|e| matches!(e, Event::MutedByOthers { .. })));
    assert!(!h
        .events(B)
        .iter()
        .any(|e| matches!(e, Event::MutedByOthers { .. })));
    assert!(!h
        .events(A)
        .iter()
        .any(|e| matches!(e, Event::MutedByOthers { .. })));
    // Nobody of that id, and a 1:1 call: typed errors.
    let missing = h.request(
        A,
        Request::MuteOthers {
            call_id: call("g"),
            targets: Some(vec![user("zed")]),
        },
    );
    assert!(missing.unwrap_err().is(ErrorKind::ParticipantNotFound));
    start(&mut h, A, "c", &["carol"]);
    accept(&mut h, C, "c");
    let one_to_one = h.request(
        A,
        Request::MuteOthers {
            call_id: call("c"),
            targets: None,
        },
    );
    assert!(one_to_one.unwrap_err().is(ErrorKind::NotForThisCall));
}

#[test]
fn the_lobby_holds_joiners_until_admitted_and_an_attendee_may_not_manage() {
    let mut h = Harness::cast();
    join_with_lobby(&mut h, A, "m");
    join(&mut h, B, "m");
    join(&mut h, C, "m");
    let waiting = h.events(B);
    assert!(waiting.iter().any(|e| matches!(
        e,
        Event::CallState {
            state: CallState::InLobby,
            ..
        }
    )));
    assert_eq!(rights_in(waiting).0, [Role::Attendee]);
    assert!(
        !h.take_media()
            .iter()
            .any(|m| matches!(m, MediaCommand::Open { leg } if leg.participant.0 > 0)),
        "no media for those waiting"
    );
    // The organizer sees who waits (besides itself); those waiting see no one.
    let seen = roster(&h.events(A));
    assert_eq!(
        seen[1..],
        [
            (1, ParticipantState::InLobby, None),
            (2, ParticipantState::InLobby, None)
        ]
    );
    assert!(roster(&h.events(C)).is_empty());
    // Waiting, Bob can do nothing in the call.
    let early = feature(&mut h, B, "m", FeatureRequest::RaiseHand { raised: true });
    assert!(early.unwrap_err().is(ErrorKind::WrongState));
    // Data channels asked for while waiting open with the media, once let in.
    feature(&mut h, B, "m", FeatureRequest::OpenDataChannel).unwrap();
    assert!(h.take_media().is_empty());

    let admitted = h.request(
        A,
        Request::AdmitLobby {
            call_id: call("m"),
            targets: Some(vec![user("bob")]),
        },
    );
    assert_eq!(
        admitted,
        Ok(Reply::Admitted {
            success_count: 1,
            failure_count: 0
        })
    );
    assert_eq!(
        h.take_media(),
        [
            MediaCommand::Open { leg: leg("m", 1) },
            MediaCommand::OpenData { leg: leg("m", 1) }
        ]
    );
    let (roles, _) = rights(&mut h, B);
    assert!(roles.is_empty(), "told once, when it waited");
    h.media_connected("m", 1);
    assert_eq!(h.call_states(B).last(), Some(&(CallState::Connected, None)));

    // An attendee may not mute others, manage the lobby or end the call for everyone; nothing
    // changes when it tries.
    h.events(A);
    for refused in [
        h.request(
            B,
            Request::MuteOthers {
                call_id: call("m"),
                targets: None,
            },
        ),
        h.request(
            B,
            Request::AdmitLobby {
                call_id: call("m"),
                targets: None,
            },
        ),
        h.request(
            B,
            Request::HangUp {
                call_id: call("m"),
                for_everyone: true,
            },
        ),
        feature(
            &mut h,
            B,
            "m",
            FeatureRequest::Spotlight {
                targets: vec![user("alice")],
                on: true,
            },
        ),
    ] {
        assert!(refused.unwrap_err().is(ErrorKind::RoleRestricted));
    }
    assert!(h.events(A).is_empty(), "nothing reached the organizer");
    assert!(feature(&mut h, B, "m", FeatureRequest::RaiseHand { raised: true }).is_ok());

    // Turned away: the lobby participant's call ends with 0/5320, and only managers knew it.
    h.ok(
        A,
        Request::RejectLobby {
            call_id: call("m"),
            target: user("carol"),
        },
    );
    assert_eq!(
        h.call_states(C).last(),
        Some(&(CallState::Disconnected, Some(EndReason::NOT_ADMITTED)))
    );
    assert_eq!(
        roster(&h.events(A)),
        [(
            2,
            ParticipantState::Disconnected,
            Some(EndReason::NOT_ADMITTED)
        )]
    );
    assert!(roster(&h.events(B)).is_empty());
    // Nobody left to admit.
    let none = h.request(
        A,
        Request::AdmitLobby {
            call_id: call("m"),
            targets: Some(vec![user("carol")]),
        },
    );
    assert!(none.unwrap_err().is(ErrorKind::ParticipantNotFound));
    assert_eq!(
        h.request(
            A,
            Request::AdmitLobby {
                call_id: call("m"),
                targets: None
            }
        ),
        Ok(Reply::Admitted {
            success_count: 0,
            failure_count: 0
        })
    );
}

#[test]
fn hands_are_raised_in_order_lowered_and_told_to_joiners() {
    let mut h = Harness::cast();
    join(&mut h, A, "g");
    join(&mut h, B, "g");
    h.events(A);
    feature(&mut h, B, "g", FeatureRequest::RaiseHand { raised: true }).unwrap();
    feature(&mut h, A, "g", FeatureRequest::RaiseHand { raised: true }).unwrap();
    assert_eq!(
        hands(&feature_events(&mut h, A)),
        Some(vec![(1, 1), (0, 2)])
    );
    feature(&mut h, B, "g", FeatureRequest::RaiseHand { raised: false }).unwrap();
    assert_eq!(hands(&feature_events(&mut h, B)), Some(vec![(0, 1)]));
    // Raising again changes nothing: no event.
    feature(&mut h, A, "g", FeatureRequest::RaiseHand { raised: true }).unwrap();
    assert_eq!(hands(&feature_events(&mut h, B)), None);
    join(&mut h, C, "g");
    assert_eq!(
        hands(&feature_events(&mut h, C)),
        Some(vec![(0, 1)]),
        "a joiner learns the list"
    );
    feature(&mut h, C, "g", FeatureRequest::RaiseHand { raised: true }).unwrap();
    feature(&mut h, B, "g", FeatureRequest::LowerHands { targets: None }).unwrap();
    assert_eq!(hands(&feature_events(&mut h, C)), Some(vec![]));
}

#[test]
fn spotlights_need_the_capability_and_stop_at_the_limit() {
    let mut h = Harness::with_config(HubConfig::default());
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for (i, name) in names.iter().enumerate() {
        h.connect(i as EndpointId + 1, name);
        join(&mut h, i as EndpointId + 1, "g");
    }
    let all: Vec<String> = names[..7].iter().map(|n| user(n)).collect();
    feature(
        &mut h,
        1,
        "g",
        FeatureRequest::Spotlight {
            targets: all,
            on: true,
        },
    )
    .unwrap();
    let over = feature(
        &mut h,
        1,
        "g",
        FeatureRequest::Spotlight {
            targets: vec![user("h")],
            on: true,
        },
    );
    assert!(over.unwrap_err().is(ErrorKind::LimitReached));
    let last = h.events(9).into_iter().rev().find_map(|e| match e {
        Event::Feature {
            event: FeatureEvent::Spotlights { participants, max },
            ..
        } => Some((participants.len(), max)),
        _ => None,
    });
    assert_eq!(last, Some((7, 7)));
    // Anyone takes their own down; stopping all clears the list.
    feature(
        &mut h,
        2,
        "g",
        FeatureRequest::Spotlight {
            targets: vec![],
            on: false,
        },
    )
    .unwrap();
    feature(&mut h, 1, "g", FeatureRequest::StopAllSpotlight).unwrap();
    let events = feature_events(&mut h, 9);
    assert!(
        matches!(events.last(), Some(FeatureEvent::Spotlights { participants, .. }) if participants.is_empty())
    );
}

#[test]
fn reactions_reach_everyone_and_text_the_others() {
    let mut h = Harness::cast();
    for e in [A, B, C] {
        join(&mut h, e, "g");
    }
    for e in [A, B, C] {
        h.events(e);
    }
    feature(
        &mut h,
        B,
        "g",
        FeatureRequest::Reaction {
            reaction: Reaction::Heart,
        },
    )
    .unwrap();
    for e in [A, B, C] {
        assert_eq!(
            feature_events(&mut h, e),
            [FeatureEvent::Reaction {
                participant_id: ParticipantId(1),
                reaction: Reaction::Heart
            }]
        );
    }
    feature(
        &mut h,
        A,
        "g",
        FeatureRequest::RealTimeText {
            sequence_id: 1,
            text: "hi".into(),
            finalized: true,
        },
    )
    .unwrap();
    assert!(
        feature_events(&mut h, A).is_empty(),
        "not echoed to the sender"
    );
    assert_eq!(
        feature_events(&mut h, C),
        [FeatureEvent::RealTimeText {
            participant_id: ParticipantId(0),
            sequence_id: 1,
            text: "hi".into(),
            finalized: true
        }]
    );
    let long = feature(
        &mut h,
        A,
        "g",
        FeatureRequest::RealTimeText {
            sequence_id: 2,
            text: "x".repeat(2001),
            finalized: false,
        },
    );
    assert!(long.unwrap_err().is(ErrorKind::LimitReached));
}

/// Alice and Bob in a connected 1:1 call `c`; Alice transfers Bob to Carol. What Bob is told,
/// Bob's new call.
fn transfer_bob_to_carol(h: &mut Harness) -> (Vec<Event>, String) {
    start(h, A, "c", &["bob"]);
    accept(h, B, "c");
    h.media_connected("c", 0);
    h.media_connected("c", 1);
    for e in [A, B, B2, C] {
        h.events(e);
    }
    feature(
        h,
        A,
        "c",
        FeatureRequest::Transfer {
            target: user("carol"),
        },
    )
    .unwrap();
    let bob = h.events(B);
    let Some(Event::Transferred { target_call_id, .. }) = bob.first() else {
        panic!("Bob is told first: {bob:?}");
    };
    let new_call = target_call_id.0.clone();
    (bob, new_call)
}

fn transfer_states(events: &[FeatureEvent]) -> Vec<(TransferState, Option<EndReason>)> {
    events
        .iter()
        .filter_map(|e| match e {
            FeatureEvent::Transfer { state, error } => Some((*state, *error)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_transfer_the_target_answers_hands_the_call_over() {
    let mut h = Harness::cast();
    // Bob learns of his new call first, then is in it, calling Carol, who rings with Bob's call.
    let (bob, new_call) = transfer_bob_to_carol(&mut h);
    assert!(matches!(&bob[0], Event::Transferred { target, .. } if *target == user("carol")));
    assert!(bob.iter().any(|e| matches!(e, Event::CallState { call_id, state: CallState::Connecting, .. } if call_id.0 == new_call)));
    assert!(
        matches!(&h.events(C)[..], [Event::IncomingCall { caller, .. }] if *caller == user("bob"))
    );
    assert_eq!(
        transfer_states(&feature_events(&mut h, A)),
        [(TransferState::Transferring, None)]
    );
    accept(&mut h, C, &new_call);
    // Alice hears it worked; the first call ends for both.
    let alice = h.events(A);
    assert!(alice.iter().any(|e| matches!(
        e,
        Event::Feature {
            event: FeatureEvent::Transfer {
                state: TransferState::Transferred,
                ..
            },
            ..
        }
    )));
    assert!(alice.iter().any(|e| matches!(
        e,
        Event::CallState {
            state: CallState::Disconnected,
            end_reason: Some(EndReason::TRANSFERRED),
            ..
        }
    )));
    assert!(h.events(B).iter().any(|e| matches!(e, Event::CallState { call_id, state: CallState::Disconnected, end_reason: Some(EndReason::TRANSFERRED), .. } if call_id.0 == "c")));
    assert_eq!(h.hub.call_count(), 1, "only the new call is left");
}

#[test]
fn a_transfer_the_target_declines_fails_and_the_call_goes_on() {
    let mut h = Harness::cast();
    let (_, new_call) = transfer_bob_to_carol(&mut h);
    h.ok(
        C,
        Request::Reject {
            call_id: call(&new_call),
        },
    );
    assert_eq!(
        transfer_states(&feature_events(&mut h, A)),
        [
            (TransferState::Transferring, None),
            (TransferState::Failed, Some(EndReason::DECLINED))
        ]
    );
    assert!(h.events(B).iter().any(|e| matches!(e, Event::CallState { call_id, state: CallState::Disconnected, .. } if call_id.0 == new_call)));
    assert_eq!(h.hub.call_count(), 1, "the first call goes on");
    // Only 1:1 calls between users are transferred.
    join(&mut h, C, "g");
    let group = feature(
        &mut h,
        C,
        "g",
        FeatureRequest::Transfer {
            target: user("bob"),
        },
    );
    assert!(group.unwrap_err().is(ErrorKind::NotForThisCall));
    let to_self = feature(
        &mut h,
        A,
        "c",
        FeatureRequest::Transfer {
            target: user("bob"),
        },
    );
    assert!(to_self.unwrap_err().is(ErrorKind::InvalidArgument));
}
