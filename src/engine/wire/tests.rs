//! The hand-written frames against serde's: every server frame the service sends reads back to
//! what serde wrote, and every client frame written here is one the service's serde reads, and
//! writes again byte for byte the same JSON.

use super::*;
use rtcall_protocol::features::{FeatureEvent, FeatureRequest, Ordered, Reaction};
use rtcall_protocol::signal::Resume;
use serde_json::{json, Value};

fn c() -> CallId {
    CallId("call-1".into())
}

/// Reads what serde wrote of `frame`, and checks it writes back the same.
fn reads_back(frame: ServerFrame) {
    let written = serde_json::to_value(&frame).unwrap();
    let read = read_frame(&written).unwrap_or_else(|| panic!("unread: {written}"));
    assert_eq!(serde_json::to_value(&read).unwrap(), written);
}

#[test]
fn every_server_frame_reads_as_serde_wrote_it() {
    let info = ParticipantInfo {
        participant_id: ParticipantId(3),
        identity: "8:acs:r_bob".into(),
        display_name: "Bob \"B\"".into(),
        state: ParticipantState::Hold,
        muted: true,
        speaking: true,
        streams: vec![StreamInfo {
            stream_id: StreamId(7),
            kind: StreamKind::ScreenSharing,
            available: true,
        }],
        reconnecting: true,
        role: Role::Attendee,
    };
    let events = vec![
        Event::IncomingCall {
            call_id: c(),
            caller: "8:acs:r_a".into(),
            caller_display_name: "A".into(),
        },
        Event::IncomingCallEnded {
            call_id: c(),
            reason: EndReason::NOT_ANSWERED,
        },
        Event::CallState {
            call_id: c(),
            state: CallState::Disconnected,
            end_reason: Some(EndReason::TRANSFERRED),
            participant_id: Some(ParticipantId(1)),
        },
        Event::CallState {
            call_id: c(),
            state: CallState::InLobby,
            end_reason: None,
            participant_id: None,
        },
        Event::Participants {
            call_id: c(),
            upsert: vec![info],
            removed: vec![RemovedParticipant {
                participant_id: ParticipantId(2),
                end_reason: EndReason::REMOVED,
            }],
        },
        Event::Speaking {
            call_id: c(),
            participant_id: ParticipantId(2),
            speaking: true,
        },
        Event::DominantSpeakers {
            call_id: c(),
            ranked: vec![ParticipantId(2), ParticipantId(0)],
        },
        Event::DtmfReceived {
            call_id: c(),
            participant_id: ParticipantId(4),
            tone: "Pound".into(),
        },
        Event::EchoReport {
            call_id: c(),
            report: EchoReport {
                phase: "playback".into(),
                audio_received: true,
                video_received: false,
                round_trip_ms: Some(12.5),
                packet_loss_percent: None,
                jitter_ms: Some(3.0),
            },
        },
        Event::Role {
            call_id: c(),
            role: Role::Organizer,
        },
        Event::MutedByOthers { call_id: c() },
        Event::Transferred {
            call_id: c(),
            target_call_id: CallId("t1-call-1".into()),
            target: "4:+14255550123".into(),
        },
        Event::Feature {
            call_id: c(),
            event: FeatureEvent::RaisedHands {
                hands: vec![Ordered {
                    participant_id: ParticipantId(2),
                    order: 1,
                }],
            },
        },
        Event::Feature {
            call_id: c(),
            event: FeatureEvent::Reaction {
                participant_id: ParticipantId(1),
                reaction: Reaction::Applause,
            },
        },
        Event::SdpOffer {
            call_id: c(),
            version: 4,
            sdp: "v=0\r\n".into(),
            media: vec![
                MediaLine::SendAudio { mid: "0".into() },
                MediaLine::SendVideo {
                    mid: "1".into(),
                    source: VideoSource::Screen,
                },
                MediaLine::ReceiveAudio {
                    mid: "3".into(),
                    participant_id: None,
                },
                MediaLine::ReceiveVideo {
                    mid: "4".into(),
                    participant_id: ParticipantId(2),
                    stream_id: StreamId(5),
                },
            ],
        },
    ];
    for event in events {
        reads_back(ServerFrame {
            seq: Some(41),
            ..ServerFrame::event(event)
        });
    }
    for reply in [
        Reply::Pong,
        Reply::Done,
        Reply::Admitted {
            success_count: 2,
            failure_count: 1,
        },
        Reply::Welcome {
            identity: "8:acs:r_a".into(),
            endpoint_id: "9".into(),
            heartbeat_interval_ms: 2500,
            version: 1,
            ice_servers: vec![IceServer {
                urls: vec!["turn:h:3478?transport=tcp".into()],
                username: Some("u".into()),
                credential: Some("p".into()),
            }],
            resume_secret: "s".into(),
            resume_window_ms: 30_000,
            resumed: true,
            last_request: Some(8),
        },
    ] {
        reads_back(ServerFrame::reply(3, reply));
    }
    reads_back(ServerFrame::error(
        5,
        WireError::new(rtcall_protocol::signal::ErrorKind::RoleRestricted, "no"),
    ));
}

#[test]
fn what_is_not_a_frame_of_ours_is_not_read() {
    for v in [
        json!({"ev": {"somethingNew": {"callId": "c"}}}),
        json!({"ev": {"callState": {"callId": "c", "state": "Sleeping"}}}),
        json!({"ok": {"welcome": {}}}),
        json!({"re": -1, "ok": "done"}),
        json!({"err": {"code": 400}}),
    ] {
        assert_eq!(read_frame(&v), None, "{v}");
    }
}

/// Checks the service's serde reads `frame` as written here and writes it back identically.
fn written_as_serde_would(frame: Outgoing) -> Value {
    let text = write_frame(&frame);
    let ours: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let typed: ClientFrame =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("the service refuses {text}: {e}"));
    assert_eq!(serde_json::to_value(&typed).unwrap(), ours, "{text}");
    ours
}

#[test]
fn every_client_frame_is_written_as_serde_would() {
    let t = || vec!["8:acs:r_b".to_owned(), "4:+14255550123".to_owned()];
    let requests: Vec<Request<RawJson>> = vec![
        Request::Ping,
        Request::Hello {
            token: "eyJ.x.y".into(),
            display_name: "Ada \"\\ \n\t\u{1}é\u{1F600}".into(),
            version: 1,
            resume: Some(Resume {
                endpoint_id: "3".into(),
                secret: "s".into(),
                last_seq: 41,
            }),
        },
        Request::Hello {
            token: "t".into(),
            display_name: String::new(),
            version: 1,
            resume: None,
        },
        Request::StartCall {
            call_id: c(),
            targets: t(),
            muted: true,
            alternate_caller_id: Some("+14255550100".into()),
        },
        Request::JoinGroup {
            group_id: "g".into(),
            muted: false,
            lobby: true,
        },
        Request::JoinGroup {
            group_id: "g".into(),
            muted: true,
            lobby: false,
        },
        Request::Accept {
            call_id: c(),
            muted: false,
        },
        Request::Reject { call_id: c() },
        Request::HangUp {
            call_id: c(),
            for_everyone: true,
        },
        Request::AddParticipant {
            call_id: c(),
            target: "8:acs:r_b".into(),
            alternate_caller_id: None,
        },
        Request::RemoveParticipant {
            call_id: c(),
            target: "8:acs:r_b".into(),
        },
        Request::MuteOthers {
            call_id: c(),
            targets: None,
        },
        Request::MuteOthers {
            call_id: c(),
            targets: Some(t()),
        },
        Request::AdmitLobby {
            call_id: c(),
            targets: Some(t()),
        },
        Request::RejectLobby {
            call_id: c(),
            target: "8:acs:r_b".into(),
        },
        Request::SendDtmf {
            call_id: c(),
            tone: "Num5".into(),
        },
        Request::SetMuted {
            call_id: c(),
            muted: true,
        },
        Request::SetHold {
            call_id: c(),
            hold: false,
        },
        Request::SetVideo {
            call_id: c(),
            source: VideoSource::Camera,
            on: true,
        },
        Request::Subscribe {
            call_id: c(),
            stream_id: StreamId(4),
            max_height: 360,
        },
        Request::Unsubscribe {
            call_id: c(),
            stream_id: StreamId(4),
        },
        Request::RestartIce { call_id: c() },
        Request::SdpAnswer {
            call_id: c(),
            version: 2,
            sdp: "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n".into(),
        },
    ];
    for (i, req) in requests.into_iter().enumerate() {
        written_as_serde_would(ClientFrame {
            id: i as u32 + 1,
            req,
            ack: (i % 2 == 0).then_some(i as u64 * 10),
        });
    }
    // A feature's request goes as the feature's code wrote it, inside the envelope.
    let request = serde_json::to_string(&FeatureRequest::Reaction {
        reaction: Reaction::Like,
    })
    .unwrap();
    let written = written_as_serde_would(ClientFrame {
        id: 9,
        req: Request::Feature {
            call_id: c(),
            request: RawJson(request),
        },
        ack: None,
    });
    assert_eq!(
        written,
        json!({"id": 9, "req": {"feature": {"callId": "call-1", "request": {"reaction": {"reaction": "like"}}}}})
    );
}
