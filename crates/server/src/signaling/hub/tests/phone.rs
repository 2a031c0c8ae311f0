//! Phone participants through the telephone gateway.

use super::*;

// ---- phone numbers, through the telephone gateway ----

const OWNED: &str = "+14255550100";
const PHONE: &str = "4:+14255550123";

/// A hub whose deployment owns [`OWNED`], with alice connected.
fn phone_cast() -> Harness {
    let mut h = Harness::with_config(HubConfig {
        phone_numbers: vec![OWNED.into()],
        ..HubConfig::default()
    });
    h.connect(A, "alice");
    h.connect(B, "bob");
    h
}

fn call_phone(h: &mut Harness, id: &str, caller_id: Option<&str>) -> Result<Reply, WireError> {
    h.request(
        A,
        Request::StartCall {
            call_id: call(id),
            targets: vec![PHONE.into()],
            muted: false,
            alternate_caller_id: caller_id.map(Into::into),
        },
    )
}

fn progress(h: &mut Harness, id: &str, progress: PhoneProgress) {
    h.phone_event(PhoneEvent::Progress {
        leg: leg(id, 1),
        progress,
    });
}

#[test]
fn a_phone_is_dialled_rings_plays_early_media_answers_and_hangs_up_with_acs_codes() {
    let mut h = phone_cast();
    assert_eq!(call_phone(&mut h, "p", Some(OWNED)), Ok(Reply::Done));
    assert_eq!(
        h.take_phone(),
        [PhoneCommand::Dial {
            leg: leg("p", 1),
            number: "+14255550123".into(),
            caller_id: OWNED.into(),
        }]
    );
    h.media_connected("p", 0);
    progress(&mut h, "p", PhoneProgress::Ringing);
    progress(&mut h, "p", PhoneProgress::EarlyMedia);
    progress(&mut h, "p", PhoneProgress::Connected);
    let events = h.events(A);
    let phone_roster: Vec<_> = roster(&events).into_iter().filter(|p| p.0 == 1).collect();
    assert_eq!(
        phone_roster,
        [
            (1, ParticipantState::Connecting, None),
            (1, ParticipantState::Ringing, None),
            (1, ParticipantState::EarlyMedia, None),
            (1, ParticipantState::Connected, None),
        ]
    );
    let states = states_in(&events);
    assert_eq!(
        states,
        [
            CallState::Connecting,
            CallState::Ringing,
            CallState::EarlyMedia,
            CallState::Connected
        ]
    );
    let identity = events.iter().find_map(|e| match e {
        Event::Participants { upsert, .. } => upsert
            .iter()
            .find(|p| p.participant_id.0 == 1)
            .map(|p| (p.identity.clone(), p.display_name.clone())),
        _ => None,
    });
    assert_eq!(identity, Some((PHONE.into(), "+14255550123".into())));

    // The phone hangs up: it leaves with 0/560000, and so does the call for alice.
    h.phone_event(PhoneEvent::Ended {
        leg: leg("p", 1),
        reason: EndReason::PHONE_HUNG_UP,
    });
    let events = h.events(A);
    assert_eq!(
        roster(&events),
        [(
            1,
            ParticipantState::Disconnected,
            Some(EndReason {
                code: 0,
                sub_code: 560_000
            })
        )]
    );
    assert!(events.iter().any(|e| matches!(
        e,
        Event::CallState { state: CallState::Disconnected, end_reason: Some(r), .. } if *r == EndReason::PHONE_HUNG_UP
    )));
    // The gateway is told too (it ignores a hang-up for a call it already ended).
    assert_eq!(h.take_phone(), [PhoneCommand::HangUp { leg: leg("p", 1) }]);
}

#[test]
fn a_busy_phone_ends_the_call_with_486_560486() {
    let mut h = phone_cast();
    call_phone(&mut h, "p", Some(OWNED)).unwrap();
    h.media_connected("p", 0);
    h.events(A);
    h.phone_event(PhoneEvent::Ended {
        leg: leg("p", 1),
        reason: EndReason::phone(486),
    });
    assert_eq!(h.call_states(A), ended(EndReason::phone(486)));
    assert_eq!(
        EndReason::phone(486),
        EndReason {
            code: 486,
            sub_code: 560_486
        }
    );
}

#[test]
fn hanging_up_or_removing_a_phone_tells_the_gateway() {
    let mut h = phone_cast();
    join(&mut h, A, "g");
    join(&mut h, B, "g");
    h.ok(
        A,
        Request::AddParticipant {
            call_id: call("g"),
            target: PHONE.into(),
            alternate_caller_id: Some(OWNED.into()),
        },
    );
    let [PhoneCommand::Dial { leg: phone, .. }] = &h.take_phone()[..] else {
        panic!("one dial");
    };
    let phone = phone.clone();
    h.phone_event(PhoneEvent::Progress {
        leg: phone.clone(),
        progress: PhoneProgress::Connected,
    });
    h.ok(
        B,
        Request::RemoveParticipant {
            call_id: call("g"),
            target: PHONE.into(),
        },
    );
    assert_eq!(h.take_phone(), [PhoneCommand::HangUp { leg: phone }]);
    // The group call goes on without it.
    assert_eq!(
        h.call_states(A).last().map(|s| s.0),
        Some(CallState::Connecting)
    );

    // A phone still ringing when the caller hangs up is hung up too.
    call_phone(&mut h, "p", Some(OWNED)).unwrap();
    h.take_phone();
    hang_up(&mut h, A, "p", false);
    assert_eq!(h.take_phone(), [PhoneCommand::HangUp { leg: leg("p", 1) }]);
}

#[test]
fn calling_a_phone_needs_a_trunk_a_valid_number_and_an_owned_caller_id() {
    let mut h = phone_cast();
    let refused = |r: Result<Reply, WireError>| r.unwrap_err().sub_code;
    assert_eq!(refused(call_phone(&mut h, "p1", None)), 40003);
    assert_eq!(
        refused(call_phone(&mut h, "p2", Some("+14255559999"))),
        40003
    );
    let bad = h.request(
        A,
        Request::StartCall {
            call_id: call("p3"),
            targets: vec!["4:+1-425".into()],
            muted: false,
            alternate_caller_id: Some(OWNED.into()),
        },
    );
    assert_eq!(refused(bad), 40003);
    assert!(h.take_phone().is_empty(), "nothing dialled");

    let mut no_trunk = Harness::cast();
    assert_eq!(refused(call_phone(&mut no_trunk, "p4", Some(OWNED))), 40303);
}
