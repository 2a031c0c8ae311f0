//! Call vocabulary shared by both ends: call and participant states, end reasons, and the ids
//! of calls, participants and streams. State names and end-reason codes are those of
//! `@azure/communication-calling`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A call's id. Clients choose it for calls they start (a UUID); a group call's id is its group
/// id, so every participant knows it before joining.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CallId(pub String);

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One participant (one endpoint's leg) within a call, unique within the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ParticipantId(pub u32);

/// A participant's video stream (camera or screen share), unique within the call. A number, as
/// `RemoteVideoStream.id` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StreamId(pub u32);

/// The state of a call as one endpoint sees it (`CallState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CallState {
    /// Not started.
    None,
    /// Being set up.
    Connecting,
    /// The callee is being alerted.
    Ringing,
    /// Media from the remote side before the call is answered (phone networks).
    EarlyMedia,
    /// In the call, media connected.
    Connected,
    /// This endpoint put the call on hold.
    LocalHold,
    /// The other side put the call on hold.
    RemoteHold,
    /// Waiting in a lobby to be admitted.
    InLobby,
    /// Hanging up.
    Disconnecting,
    /// Over; `callEndReason` says why.
    Disconnected,
}

/// The state of a participant as the others see it (`RemoteParticipantState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ParticipantState {
    /// Added, not yet being reached.
    Idle,
    /// Being reached.
    Connecting,
    /// Being alerted.
    Ringing,
    /// Sending early media (phone networks).
    EarlyMedia,
    /// In the call.
    Connected,
    /// Holding the call.
    Hold,
    /// Waiting in a lobby.
    InLobby,
    /// Gone; its end reason says why.
    Disconnected,
}

/// Why a call ended for someone, or why a participant left (`CallEndReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndReason {
    /// SIP-like class.
    pub code: u16,
    /// Exact reason.
    pub sub_code: u32,
}

impl EndReason {
    const fn new(code: u16, sub_code: u32) -> Self {
        EndReason { code, sub_code }
    }

    /// Hung up by this participant.
    pub const HUNG_UP: Self = Self::new(0, 0);
    /// The call was ended for everyone by a participant.
    pub const ENDED_FOR_EVERYONE: Self = Self::new(0, 4097);
    /// The participant's connection vanished (closed tab, lost network).
    pub const LEFT_ABRUPTLY: Self = Self::new(0, 4521);
    /// Seen by the others: the participant was removed by someone else.
    pub const REMOVED: Self = Self::new(0, 5000);
    /// Every invited callee declined.
    pub const ALL_DECLINED: Self = Self::new(0, 5003);
    /// Seen by the removed participant: someone removed it.
    pub const REMOVED_BY_OTHER: Self = Self::new(0, 5300);
    /// The caller cancelled before an answer.
    pub const CANCELLED: Self = Self::new(487, 0);
    /// The call was answered on another endpoint of the same user.
    pub const ANSWERED_ELSEWHERE: Self = Self::new(487, 10003);
    /// Nobody answered in time.
    pub const NOT_ANSWERED: Self = Self::new(487, 10004);
    /// The callee has no connected endpoint.
    pub const NO_ENDPOINT: Self = Self::new(480, 10037);
    /// The callee declined.
    pub const DECLINED: Self = Self::new(603, 0);
    /// No such user.
    pub const UNKNOWN_USER: Self = Self::new(404, 10404);
    /// A phone call ended normally (the phone side hung up, or was hung up on).
    pub const PHONE_HUNG_UP: Self = Self::new(0, 560_000);

    /// How a phone leg ended, from the telephone network's SIP status: busy is 486/560486,
    /// as ACS reports it.
    pub const fn phone(sip_code: u16) -> Self {
        Self::new(sip_code, 560_000 + sip_code as u32)
    }

    /// Media could not be connected (ICE or DTLS failed or timed out).
    pub const MEDIA_FAILED: Self = Self::new(410, 3100);
    /// The connection to the service was lost and could not be restored.
    pub const NETWORK_LOST: Self = Self::new(496, 7);
    /// The call was handed over by a blind transfer: the one who asked for it, once the target
    /// answered, and the other side's call it replaced. (rtcall's; ACS publishes no code.)
    pub const TRANSFERRED: Self = Self::new(0, 5310);
    /// Turned away from the lobby. (rtcall's; ACS publishes no code.)
    pub const NOT_ADMITTED: Self = Self::new(0, 5320);
    /// A fault inside the library (a Rust panic, whose message the console shows) ended the
    /// call; the participant's other calls go on. (rtcall's, as its client errors' 41xxx.)
    pub const LIBRARY_FAULT: Self = Self::new(500, 41014);
}

/// What kind of video a stream carries (`MediaStreamType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StreamKind {
    /// A camera.
    Video,
    /// A screen, window or tab being shared.
    ScreenSharing,
}
