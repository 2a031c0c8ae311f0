//! Signaling messages: JSON over one WebSocket per endpoint (`/signal`).
//!
//! The client sends [`ClientFrame`]s: a request id and a [`Request`]. The server answers every
//! request exactly once with a [`ServerFrame`] carrying `re` (the request id) and either `ok`
//! (a [`Reply`]) or `err` (a [`WireError`]), and pushes [`Event`]s as `ev` frames. The first
//! request on a connection must be [`Request::Hello`], carrying the access token (never in the
//! URL, which ends up in logs). Variants are named by their key (`{"startCall": {...}}`,
//! `"ping"`), which every JSON library reads without buffering.
//!
//! ```
//! use rtcall_protocol::signal::{ClientFrame, Request};
//!
//! let frame: ClientFrame = serde_json::from_str(
//!     r#"{"id": 1, "req": {"hello": {"token": "eyJ…", "displayName": "Ada", "version": 1}}}"#,
//! ).unwrap();
//! assert!(matches!(frame.req, Request::Hello { .. }));
//! ```
//!
//! Rosters travel as deltas: [`Event::Participants`] carries only the participants that were
//! added or changed and those that left, so one join in a call of n costs O(n) bytes in total.
//!
//! A session outlives its WebSocket. The server numbers the frames it sends an endpoint
//! ([`ServerFrame::seq`]) and keeps those not yet acknowledged ([`ClientFrame::ack`]); a client
//! that lost its socket sends a new `hello` with [`Resume`] — its endpoint, the secret the last
//! welcome gave it, the last frame it got — and receives what it missed, in order, after a
//! welcome that says `resumed` and which of its requests the service took. A secret resumes
//! once: every welcome gives a new one.

use crate::call::{
    CallId, CallState, EndReason, ParticipantId, ParticipantState, StreamId, StreamKind,
};
use crate::features::{FeatureEvent, FeatureRequest, Role};
use serde::{Deserialize, Serialize};

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// The largest frame either side accepts, in bytes. An SDP offer for a large call's subscriber
/// is the biggest message (tens of kilobytes).
pub const MAX_FRAME_BYTES: usize = 256 * 1024;

/// A request's id, chosen by the client, echoed in the reply.
pub type RequestId = u32;

/// Client → server. `F` is how a feature request is held: typed for the service, as JSON text
/// ([`RawJson`](crate::features::RawJson)) in the browser core.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientFrame<F = FeatureRequest> {
    /// Request id.
    pub id: RequestId,
    /// The request.
    pub req: Request<F>,
    /// The last [`ServerFrame::seq`] received: the service may forget frames up to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack: Option<u64>,
}

impl ClientFrame {
    /// A frame of request `id`, acknowledging nothing.
    pub fn new(id: RequestId, req: Request) -> Self {
        ClientFrame { id, req, ack: None }
    }
}

/// What resumes a session whose WebSocket was lost (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resume {
    /// The endpoint, from the last welcome.
    pub endpoint_id: String,
    /// The secret of the last welcome.
    pub secret: String,
    /// The last [`ServerFrame::seq`] received.
    pub last_seq: u64,
}

/// Which video a client sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum VideoSource {
    /// The camera track.
    Camera,
    /// The screen-share track.
    Screen,
}

/// What a client asks for. `F`: see [`ClientFrame`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Request<F = FeatureRequest> {
    /// Authenticates the connection. Must come first. Replied with [`Reply::Welcome`].
    Hello {
        /// The access token.
        token: String,
        /// The name others see.
        #[serde(default)]
        display_name: String,
        /// The protocol version the client speaks.
        version: u32,
        /// Resume this session instead of starting a new one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<Resume>,
    },
    /// Keeps the connection alive; replied with [`Reply::Pong`].
    Ping,
    /// Starts a call to one or more users or phone numbers (raw ids).
    StartCall {
        /// The new call's id (a UUID chosen by the client).
        call_id: CallId,
        /// Whom to call.
        targets: Vec<String>,
        /// Whether the caller starts muted.
        #[serde(default)]
        muted: bool,
        /// The caller id phones see (E.164): a number of the deployment's. Required to call
        /// phone numbers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        alternate_caller_id: Option<String>,
    },
    /// Joins the group call `group_id`, creating it if this is the first join. The call's id
    /// is the group id.
    JoinGroup {
        /// The group (a GUID).
        group_id: String,
        /// Whether the joiner starts muted.
        #[serde(default)]
        muted: bool,
        /// When this join makes the call: later joiners wait in its lobby until admitted.
        #[serde(default, skip_serializing_if = "is_false")]
        lobby: bool,
    },
    /// Accepts an incoming call.
    Accept {
        /// The call.
        call_id: CallId,
        /// Whether the callee starts muted.
        #[serde(default)]
        muted: bool,
    },
    /// Declines an incoming call.
    Reject {
        /// The call.
        call_id: CallId,
    },
    /// Leaves a call, or ends it for everyone.
    HangUp {
        /// The call.
        call_id: CallId,
        /// End the call for every participant.
        #[serde(default)]
        for_everyone: bool,
    },
    /// Invites a user or phone number into a running call.
    AddParticipant {
        /// The call.
        call_id: CallId,
        /// Whom (raw id).
        target: String,
        /// The caller id the phone sees, for phone numbers (see [`Request::StartCall`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        alternate_caller_id: Option<String>,
    },
    /// Removes a user (every leg of that identity) from a call.
    RemoveParticipant {
        /// The call.
        call_id: CallId,
        /// Whom (raw id).
        target: String,
    },
    /// Mutes others' microphones: these (raw ids), or everyone else (`None`).
    MuteOthers {
        /// The call.
        call_id: CallId,
        /// Raw ids.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        targets: Option<Vec<String>>,
    },
    /// Lets participants waiting in the lobby into the call: these (raw ids), or all (`None`).
    /// Replied with [`Reply::Admitted`].
    AdmitLobby {
        /// The call.
        call_id: CallId,
        /// Raw ids.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        targets: Option<Vec<String>>,
    },
    /// Turns a participant waiting in the lobby away.
    RejectLobby {
        /// The call.
        call_id: CallId,
        /// Raw id.
        target: String,
    },
    /// A call feature's request (see [`crate::features`]).
    Feature {
        /// The call.
        call_id: CallId,
        /// The request.
        request: F,
    },
    /// Sends a telephone key to the phones in the call (RFC 4733 events).
    SendDtmf {
        /// The call.
        call_id: CallId,
        /// ACS's name: `Num0`…`Num9`, `Star`, `Pound`, `A`…`D`, `Flash`.
        tone: String,
    },
    /// Reports this endpoint's microphone mute state.
    SetMuted {
        /// The call.
        call_id: CallId,
        /// Muted or not.
        muted: bool,
    },
    /// Puts the call on hold (media paused both ways) or resumes it.
    SetHold {
        /// The call.
        call_id: CallId,
        /// Hold or resume.
        hold: bool,
    },
    /// Starts or stops sending a video source.
    SetVideo {
        /// The call.
        call_id: CallId,
        /// Camera or screen.
        source: VideoSource,
        /// Sending or not.
        on: bool,
    },
    /// Starts receiving a remote video stream, at a size that fits `max_height` pixels.
    Subscribe {
        /// The call.
        call_id: CallId,
        /// The stream.
        stream_id: StreamId,
        /// The rendered height, to choose the simulcast layer.
        #[serde(default = "default_max_height")]
        max_height: u32,
    },
    /// Stops receiving a remote video stream.
    Unsubscribe {
        /// The call.
        call_id: CallId,
        /// The stream.
        stream_id: StreamId,
    },
    /// Asks for an offer that restarts ICE (new credentials) on this endpoint's media
    /// connection, after its network changed or its connection was lost. The media lines and
    /// what flows on them stay.
    RestartIce {
        /// The call.
        call_id: CallId,
    },
    /// Answers the server's SDP offer.
    SdpAnswer {
        /// The call.
        call_id: CallId,
        /// The offer's version, from [`Event::SdpOffer`].
        version: u32,
        /// The SDP.
        sdp: String,
    },
}

fn default_max_height() -> u32 {
    720
}

/// Server → client: a reply to a request, or an event. `E` is how a feature event is held:
/// typed for the service, as JSON text ([`RawJson`](crate::features::RawJson)) in the browser
/// core.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(serialize = "E: Serialize", deserialize = "E: Deserialize<'de>"))]
pub struct ServerFrame<E = FeatureEvent> {
    /// The frame's number, increasing (not consecutive) on each endpoint's frames; absent on
    /// frames a resumed session would not need again (a refused `hello`, a frame the server
    /// could not read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// The request this answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub re: Option<RequestId>,
    /// Success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ok: Option<Reply>,
    /// Failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub err: Option<WireError>,
    /// A pushed event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ev: Option<Event<E>>,
}

impl<E> Default for ServerFrame<E> {
    fn default() -> Self {
        ServerFrame {
            seq: None,
            re: None,
            ok: None,
            err: None,
            ev: None,
        }
    }
}

impl ServerFrame {
    /// A successful reply.
    pub fn reply(re: RequestId, reply: Reply) -> Self {
        ServerFrame {
            re: Some(re),
            ok: Some(reply),
            ..Default::default()
        }
    }

    /// A failed reply.
    pub fn error(re: RequestId, error: WireError) -> Self {
        ServerFrame {
            re: Some(re),
            err: Some(error),
            ..Default::default()
        }
    }

    /// An event.
    pub fn event(event: Event) -> Self {
        ServerFrame {
            ev: Some(event),
            ..Default::default()
        }
    }
}

/// A successful reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Reply {
    /// The connection is authenticated.
    Welcome {
        /// The identity's raw id.
        identity: String,
        /// This endpoint's id.
        endpoint_id: String,
        /// How often to send [`Request::Ping`]; the server drops an endpoint silent for three.
        heartbeat_interval_ms: u32,
        /// The server's protocol version.
        version: u32,
        /// STUN/TURN servers to use besides the SFU's own address (for clients behind NAT).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ice_servers: Vec<IceServer>,
        /// The secret that resumes this session once (see [`Resume`]).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        resume_secret: String,
        /// How long the service keeps the session, and its calls, after its socket is lost.
        #[serde(default)]
        resume_window_ms: u32,
        /// The hello resumed the session: what it missed follows.
        #[serde(default, skip_serializing_if = "is_false")]
        resumed: bool,
        /// When resumed: the last request id the service took from it (later ones are to be
        /// sent again).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_request: Option<RequestId>,
    },
    /// Answer to a ping.
    Pong,
    /// Done.
    Done,
    /// Participants were let in from the lobby ([`Request::AdmitLobby`]).
    Admitted {
        /// How many were.
        success_count: u32,
        /// How many named could not be (not waiting there).
        failure_count: u32,
    },
}

/// A STUN or TURN server, as `RTCIceServer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IceServer {
    /// Server URLs.
    pub urls: Vec<String>,
    /// TURN user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// A pushed event. `E`: see [`ServerFrame`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Event<E = FeatureEvent> {
    /// Someone is calling this user.
    IncomingCall {
        /// The call.
        call_id: CallId,
        /// The caller's raw id.
        caller: String,
        /// The caller's display name.
        caller_display_name: String,
    },
    /// An incoming call stopped ringing here (cancelled, answered elsewhere, timed out).
    IncomingCallEnded {
        /// The call.
        call_id: CallId,
        /// Why.
        reason: EndReason,
    },
    /// This endpoint's call changed state.
    CallState {
        /// The call.
        call_id: CallId,
        /// The new state.
        state: CallState,
        /// Why it ended, with `Disconnected`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        end_reason: Option<EndReason>,
        /// This endpoint's participant id in the call, once it has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        participant_id: Option<ParticipantId>,
    },
    /// Roster changes: participants added or changed (full info), and those that left.
    Participants {
        /// The call.
        call_id: CallId,
        /// Added or changed.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        upsert: Vec<ParticipantInfo>,
        /// Left, with why.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        removed: Vec<RemovedParticipant>,
    },
    /// Whether a participant is speaking now.
    Speaking {
        /// The call.
        call_id: CallId,
        /// Who.
        participant_id: ParticipantId,
        /// Speaking or not.
        speaking: bool,
    },
    /// The ranked list of recent speakers, loudest first (`DominantSpeakers`).
    DominantSpeakers {
        /// The call.
        call_id: CallId,
        /// Participant ids, most dominant first.
        ranked: Vec<ParticipantId>,
    },
    /// A phone in the call pressed a key.
    DtmfReceived {
        /// The call.
        call_id: CallId,
        /// The phone participant.
        participant_id: ParticipantId,
        /// ACS's name for the key (`Num5`, `Pound`, …).
        tone: String,
    },
    /// How an echo test call is going (calls to `8:echo123` only).
    EchoReport {
        /// The call.
        call_id: CallId,
        /// The report.
        report: EchoReport,
    },
    /// This endpoint's role in the call (told when it joins, and when it changes).
    Role {
        /// The call.
        call_id: CallId,
        /// The role.
        role: Role,
    },
    /// Someone muted this endpoint's microphone ([`Request::MuteOthers`]): the service counts
    /// it muted from now, and the client mutes its microphone.
    MutedByOthers {
        /// The call.
        call_id: CallId,
    },
    /// The other participant of this 1:1 call handed it over: this endpoint is now in the call
    /// `target_call_id`, calling `target`, which replaces this one once `target` answers.
    Transferred {
        /// The call handed over.
        call_id: CallId,
        /// The new call, which this endpoint is in already.
        target_call_id: CallId,
        /// Whom it calls (raw id).
        target: String,
    },
    /// A call feature's event (see [`crate::features`]).
    Feature {
        /// The call.
        call_id: CallId,
        /// The event.
        event: E,
    },
    /// A new SDP offer for this endpoint's media connection; answer with
    /// [`Request::SdpAnswer`].
    SdpOffer {
        /// The call.
        call_id: CallId,
        /// Offer version, echoed in the answer.
        version: u32,
        /// The SDP.
        sdp: String,
        /// What each media line carries.
        media: Vec<MediaLine>,
    },
}

/// What the echo test bot saw of the caller's media: enough to tell a user whether their
/// microphone and camera work and how the network is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EchoReport {
    /// `prompt`, `recording` or `playback`.
    pub phase: String,
    /// Audio from the caller reached the bot (in the last or current recording).
    pub audio_received: bool,
    /// Video from the caller reached the bot.
    pub video_received: bool,
    /// Round-trip time between the caller and the service, when measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round_trip_ms: Option<f64>,
    /// Share of the caller's packets lost on the way, in percent, when measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packet_loss_percent: Option<f64>,
    /// Interarrival jitter of the caller's audio, when measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter_ms: Option<f64>,
}

/// What one media line (m-line, by `mid`) of the connection carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum MediaLine {
    /// The client sends its microphone here.
    SendAudio {
        /// The m-line.
        mid: String,
    },
    /// The client sends a video source here.
    SendVideo {
        /// The m-line.
        mid: String,
        /// Camera or screen.
        source: VideoSource,
    },
    /// A remote participant's audio arrives here. In large calls a line carries whoever is
    /// among the loudest, so `participant_id` is absent.
    ReceiveAudio {
        /// The m-line.
        mid: String,
        /// Whose audio, when one participant's only.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        participant_id: Option<ParticipantId>,
    },
    /// A subscribed remote video stream arrives here.
    ReceiveVideo {
        /// The m-line.
        mid: String,
        /// Whose.
        participant_id: ParticipantId,
        /// Which stream.
        stream_id: StreamId,
    },
}

/// Everything the others know about a participant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantInfo {
    /// Id within the call.
    pub participant_id: ParticipantId,
    /// Raw id of the identity.
    pub identity: String,
    /// Display name.
    pub display_name: String,
    /// State.
    pub state: ParticipantState,
    /// Microphone muted.
    pub muted: bool,
    /// Speaking now (so a joiner learns who already is; changes come as `Speaking` events).
    #[serde(default)]
    pub speaking: bool,
    /// Video streams the participant has (available or not).
    #[serde(default)]
    pub streams: Vec<StreamInfo>,
    /// Its connection to the service is lost and it is reconnecting (its state stays).
    #[serde(default, skip_serializing_if = "is_false")]
    pub reconnecting: bool,
    /// Its role.
    #[serde(default, skip_serializing_if = "is_unknown")]
    pub role: Role,
}

fn is_unknown(role: &Role) -> bool {
    *role == Role::Unknown
}

fn is_false(value: &bool) -> bool {
    !value
}

/// A participant's video stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamInfo {
    /// Id within the call.
    pub stream_id: StreamId,
    /// Camera or screen share.
    pub kind: StreamKind,
    /// Being sent now.
    pub available: bool,
}

/// A participant that left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemovedParticipant {
    /// Who.
    pub participant_id: ParticipantId,
    /// Why.
    pub end_reason: EndReason,
}

/// A failed request: `code` (HTTP-like class), `subCode` (exactly which error), `message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireError {
    /// HTTP-like class.
    pub code: u16,
    /// Exactly which error, from [`ErrorKind`].
    pub sub_code: u32,
    /// For people.
    pub message: String,
}

macro_rules! error_kinds {
    ($($(#[$doc:meta])* $name:ident = ($code:literal, $sub:literal),)*) => {
        /// Every signaling error, with its code and stable sub-code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum ErrorKind {
            $($(#[$doc])* $name,)*
        }

        impl ErrorKind {
            /// `(code, subCode)`.
            pub fn codes(self) -> (u16, u32) {
                match self {
                    $(ErrorKind::$name => ($code, $sub),)*
                }
            }
        }
    };
}

error_kinds! {
    /// Not JSON, or not a known request.
    MalformedMessage = (400, 40001),
    /// Over [`MAX_FRAME_BYTES`].
    MessageTooLarge = (413, 40002),
    /// A field has a bad value.
    InvalidArgument = (400, 40003),
    /// The client speaks a protocol version the server does not.
    UnsupportedVersion = (400, 40004),
    /// The token is malformed, forged or for an unknown identity.
    InvalidToken = (401, 40101),
    /// The token has expired.
    TokenExpired = (401, 40102),
    /// The token was revoked.
    TokenRevoked = (401, 40103),
    /// The token lacks the `voip` scope.
    NotPermitted = (403, 40301),
    /// The participant's role does not allow it (its capabilities say so).
    RoleRestricted = (403, 40304),
    /// Not in this kind of call (muting others in a 1:1 call, a lobby in a call without one).
    NotForThisCall = (403, 40305),
    /// Over a limit of the call's (spotlights at once, a message's size or recipients).
    LimitReached = (400, 40005),
    /// The call has 350 participants already.
    CallFull = (403, 40302),
    /// The deployment has no telephone trunk, so phone numbers cannot be called.
    PhoneUnavailable = (403, 40303),
    /// No such call, or this endpoint is not in it.
    CallNotFound = (404, 40401),
    /// No such participant in the call.
    ParticipantNotFound = (404, 40402),
    /// No such user.
    UnknownUser = (404, 40403),
    /// A request before `hello`, or a second `hello`.
    NotAuthenticated = (409, 40901),
    /// The request does not fit the call's state (accepting twice, answering a stale offer).
    WrongState = (409, 40902),
    /// A call with this id exists already.
    CallExists = (409, 40903),
    /// The service failed.
    Internal = (500, 50001),
    /// The service has more requests waiting than it takes: try again shortly.
    ServiceBusy = (503, 50301),
    /// No session to resume: it ended (its window passed, the service restarted), its secret
    /// was used already, or it is not this identity's. Start a new one.
    SessionNotResumable = (410, 41001),
}

impl WireError {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let (code, sub_code) = kind.codes();
        WireError {
            code,
            sub_code,
            message: message.into(),
        }
    }

    /// Whether this is an error of `kind`.
    pub fn is(&self, kind: ErrorKind) -> bool {
        (self.code, self.sub_code) == kind.codes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_are_keyed_by_camel_case_names() {
        let frame = ClientFrame::new(
            7,
            Request::StartCall {
                call_id: CallId("c1".into()),
                targets: vec!["8:acs:r_u".into()],
                muted: true,
                alternate_caller_id: None,
            },
        );
        assert_eq!(
            serde_json::to_value(&frame).unwrap(),
            json!({"id": 7, "req": {"startCall": {"callId": "c1", "targets": ["8:acs:r_u"], "muted": true}}})
        );
        let back: ClientFrame = serde_json::from_value(json!(
            {"id": 8, "req": {"setHold": {"callId": "c1", "hold": true}}}
        ))
        .unwrap();
        assert_eq!(
            back.req,
            Request::SetHold {
                call_id: CallId("c1".into()),
                hold: true
            }
        );
    }

    #[test]
    fn replies_and_events_are_flat_frames() {
        let reply = ServerFrame::reply(3, Reply::Done);
        assert_eq!(
            serde_json::to_value(&reply).unwrap(),
            json!({"re": 3, "ok": "done"})
        );
        let error = ServerFrame::error(4, WireError::new(ErrorKind::CallFull, "full"));
        assert_eq!(
            serde_json::to_value(&error).unwrap(),
            json!({"re": 4, "err": {"code": 403, "subCode": 40302, "message": "full"}})
        );
        let event = ServerFrame::event(Event::CallState {
            call_id: CallId("c".into()),
            state: CallState::Disconnected,
            end_reason: Some(EndReason::NOT_ANSWERED),
            participant_id: None,
        });
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            json!({"ev": {"callState": {"callId": "c", "state": "Disconnected", "endReason": {"code": 487, "subCode": 10004}}}})
        );
    }

    #[test]
    fn a_resuming_hello_names_its_session_and_frames_carry_their_numbers() {
        let hello: ClientFrame =
            serde_json::from_value(json!({"id": 1, "ack": 41, "req": {"hello": {
                "token": "t", "version": 1,
                "resume": {"endpointId": "7", "secret": "s", "lastSeq": 41}
            }}}))
            .unwrap();
        assert_eq!(hello.ack, Some(41));
        let Request::Hello {
            resume: Some(resume),
            ..
        } = hello.req
        else {
            panic!("a resuming hello: {hello:?}");
        };
        assert_eq!(resume.last_seq, 41);
        // A plain hello and an old client's frames read as before.
        let plain: ClientFrame = serde_json::from_value(
            json!({"id": 1, "req": {"hello": {"token": "t", "version": 1}}}),
        )
        .unwrap();
        assert!(matches!(plain.req, Request::Hello { resume: None, .. }));
        let numbered = ServerFrame {
            seq: Some(9),
            ..ServerFrame::reply(3, Reply::Done)
        };
        assert_eq!(
            serde_json::to_value(&numbered).unwrap(),
            json!({"seq": 9, "re": 3, "ok": "done"})
        );
    }

    #[test]
    fn media_lines_are_keyed_by_role() {
        let line = MediaLine::ReceiveVideo {
            mid: "3".into(),
            participant_id: ParticipantId(2),
            stream_id: StreamId(5),
        };
        assert_eq!(
            serde_json::to_value(&line).unwrap(),
            json!({"receiveVideo": {"mid": "3", "participantId": 2, "streamId": 5}})
        );
    }

    #[test]
    fn unknown_requests_do_not_parse() {
        for bad in [
            json!({"id": 1, "req": {"launchMissiles": {}}}),
            json!({"id": 1}),
            json!({"req": "ping"}),
            json!({"id": -1, "req": "ping"}),
        ] {
            assert!(
                serde_json::from_value::<ClientFrame>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn error_codes_are_unique() {
        let all = [
            ErrorKind::MalformedMessage,
            ErrorKind::MessageTooLarge,
            ErrorKind::InvalidArgument,
            ErrorKind::UnsupportedVersion,
            ErrorKind::InvalidToken,
            ErrorKind::TokenExpired,
            ErrorKind::TokenRevoked,
            ErrorKind::NotPermitted,
            ErrorKind::CallFull,
            ErrorKind::CallNotFound,
            ErrorKind::ParticipantNotFound,
            ErrorKind::UnknownUser,
            ErrorKind::NotAuthenticated,
            ErrorKind::WrongState,
            ErrorKind::CallExists,
            ErrorKind::Internal,
            ErrorKind::ServiceBusy,
            ErrorKind::SessionNotResumable,
            ErrorKind::PhoneUnavailable,
            ErrorKind::RoleRestricted,
            ErrorKind::NotForThisCall,
            ErrorKind::LimitReached,
        ];
        let mut sub_codes: Vec<u32> = all.iter().map(|k| k.codes().1).collect();
        sub_codes.sort();
        sub_codes.dedup();
        assert_eq!(sub_codes.len(), all.len());
    }
}
