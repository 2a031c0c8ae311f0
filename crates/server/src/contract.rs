//! What the hub, the SFU and the telephone gateway say to each other, and the only thing they
//! share: the hub sends [`MediaCommand`]s to the SFU and [`PhoneCommand`]s to the gateway; the SFU
//! answers with [`MediaEvent`]s and the gateway with [`PhoneEvent`]s. None of the three engines
//! imports another; the node shell moves these messages between them. Everything here is plain
//! data over `rtcall-protocol`'s types: no behaviour, no I/O.

use rtcall_protocol::call::{CallId, EndReason, ParticipantId, StreamId};
use rtcall_protocol::signal::{EchoReport, MediaLine, RequestId, VideoSource, WireError};

/// A connected endpoint (one WebSocket), as the hub and the shell name it.
pub type EndpointId = u64;

/// One participant's media connection: how the hub, the SFU and the gateway name a leg.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LegKey {
    /// The call.
    pub call: CallId,
    /// The participant.
    pub participant: ParticipantId,
}

/// Where the outcome of a media command goes: the request it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyTo {
    /// The endpoint.
    pub endpoint: EndpointId,
    /// The request.
    pub request: RequestId,
}

// ---- hub → SFU ----

/// What the hub asks of the SFU.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaCommand {
    /// Create the media connection of a participant who joined; the SFU answers with an offer.
    /// Opening an open leg does nothing.
    Open {
        /// Whose.
        leg: LegKey,
    },
    /// Start the echo test bot as participant `leg` of a call, answering `caller`.
    OpenEcho {
        /// The bot's leg.
        leg: LegKey,
        /// The caller it echoes.
        caller: ParticipantId,
    },
    /// Tear it down.
    Close {
        /// Whose.
        leg: LegKey,
    },
    /// Apply the client's SDP answer; the SFU tells the outcome with [`MediaEvent::Answered`].
    Answer {
        /// Whose.
        leg: LegKey,
        /// Offer version answered.
        version: u32,
        /// The SDP.
        sdp: String,
        /// The request to answer; none for the gateway's own connections (phones).
        reply: Option<ReplyTo>,
    },
    /// Pause (or resume) forwarding to and from a participant.
    Hold {
        /// Whose.
        leg: LegKey,
        /// On hold or not.
        hold: bool,
    },
    /// Forward a participant's video source to a subscriber.
    Subscribe {
        /// The subscriber.
        leg: LegKey,
        /// The publishing participant.
        source: ParticipantId,
        /// Camera or screen.
        video: VideoSource,
        /// The stream, as the client knows it.
        stream_id: StreamId,
        /// Rendered height.
        max_height: u32,
    },
    /// Stop forwarding a stream to a subscriber.
    Unsubscribe {
        /// The subscriber.
        leg: LegKey,
        /// The stream.
        stream_id: StreamId,
    },
    /// Restart ICE on a participant's connection (its network changed): the next offer has
    /// new ICE credentials; its lines and forwarding stay.
    RestartIce {
        /// Whose.
        leg: LegKey,
    },
    /// Open a participant's data channels (a new offer adds them): its messages then go to,
    /// and come from, the participants of the call that have theirs open.
    OpenData {
        /// Whose.
        leg: LegKey,
    },
}

impl MediaCommand {
    /// The call the command is about: the shell routes it to the SFU that carries that call.
    pub fn call(&self) -> &CallId {
        match self {
            MediaCommand::Open { leg }
            | MediaCommand::OpenEcho { leg, .. }
            | MediaCommand::Close { leg }
            | MediaCommand::Answer { leg, .. }
            | MediaCommand::Hold { leg, .. }
            | MediaCommand::Subscribe { leg, .. }
            | MediaCommand::Unsubscribe { leg, .. }
            | MediaCommand::RestartIce { leg }
            | MediaCommand::OpenData { leg } => &leg.call,
        }
    }
}

// ---- SFU → hub ----

/// What the SFU tells the hub.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaEvent {
    /// A (re)negotiation: send this offer to the participant.
    Offer {
        /// Whose connection.
        leg: LegKey,
        /// Version, echoed by the answer.
        version: u32,
        /// SDP.
        sdp: String,
        /// What each m-line carries.
        media: Vec<MediaLine>,
    },
    /// How a [`MediaCommand::Answer`] went.
    Answered {
        /// Whose connection.
        leg: LegKey,
        /// The request it answers, if any.
        reply: Option<ReplyTo>,
        /// Applied, or why not.
        outcome: Result<(), WireError>,
    },
    /// ICE and DTLS are up.
    Connected {
        /// Whose.
        leg: LegKey,
    },
    /// The connection was up and its path was lost (no ICE checks for a while): the SFU
    /// waits for it to come back, or for an ICE restart, until its grace ends.
    Interrupted {
        /// Whose.
        leg: LegKey,
    },
    /// An interrupted connection is up again.
    Restored {
        /// Whose.
        leg: LegKey,
    },
    /// The connection failed, never came up, or stayed interrupted past its grace.
    Failed {
        /// Whose.
        leg: LegKey,
    },
    /// A participant started or stopped speaking.
    Speaking {
        /// Who.
        leg: LegKey,
        /// Speaking now.
        speaking: bool,
    },
    /// The echo bot started or stopped sending video (playing back a recording with video).
    EchoVideo {
        /// The bot's leg.
        leg: LegKey,
        /// Sending video now.
        available: bool,
    },
    /// How the echo test call is going, for its caller.
    EchoReport {
        /// The caller's leg.
        leg: LegKey,
        /// The report.
        report: EchoReport,
    },
    /// The call's ranked speakers changed.
    DominantSpeakers {
        /// The call.
        call: CallId,
        /// Most dominant first.
        ranked: Vec<ParticipantId>,
    },
}

// ---- hub → gateway ----

/// What the hub asks of the telephone gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneCommand {
    /// Call `number` for participant `leg`, showing `caller_id`.
    Dial {
        /// The phone participant.
        leg: LegKey,
        /// E.164.
        number: String,
        /// E.164, owned by the deployment.
        caller_id: String,
    },
    /// Hang up (or stop ringing) the phone of `leg`.
    HangUp {
        /// The phone participant.
        leg: LegKey,
    },
    /// Answer a call from a phone (its callee accepted, or it joined a group call).
    Answer {
        /// The phone participant.
        leg: LegKey,
    },
    /// A call from a phone has this participant key in the hub from now on (the gateway
    /// proposed one; joining a running group call gives another).
    Rebind {
        /// The key the gateway proposed.
        from: LegKey,
        /// The hub's.
        to: LegKey,
    },
    /// Press a key on the phone's line (RFC 4733 event code).
    SendDtmf {
        /// The phone participant.
        leg: LegKey,
        /// 0–16.
        code: u8,
    },
    /// The SFU's offer for the phone participant's media connection.
    Offer {
        /// The phone participant.
        leg: LegKey,
        /// The offer's version, for the answer.
        version: u32,
        /// SDP.
        sdp: String,
        /// What each m-line carries.
        media: Vec<MediaLine>,
    },
}

// ---- gateway → hub ----

/// How far a phone call got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneProgress {
    /// The phone rings.
    Ringing,
    /// The network plays audio before an answer (ringback, announcements).
    EarlyMedia,
    /// Answered.
    Connected,
}

/// Where calls to one of the deployment's numbers go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneTarget {
    /// Ring this user (raw id).
    User(String),
    /// Join this group call.
    Group(String),
}

/// What the gateway tells the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneEvent {
    /// A phone call progressed.
    Progress {
        /// The phone participant.
        leg: LegKey,
        /// Where it is.
        progress: PhoneProgress,
    },
    /// A phone calls one of the deployment's numbers: the hub rings `target` or joins it to
    /// it, with the phone as participant `leg` (a new call, participant 0, for a user).
    Incoming {
        /// The phone participant, as the gateway proposes it.
        leg: LegKey,
        /// The caller's number.
        caller: String,
        /// Where the number's calls go.
        target: PhoneTarget,
    },
    /// The phone pressed a key (RFC 4733 event code).
    Dtmf {
        /// The phone participant.
        leg: LegKey,
        /// 0–16.
        code: u8,
    },
    /// The answer to the SFU's offer.
    Answer {
        /// The phone participant.
        leg: LegKey,
        /// The offer's version.
        version: u32,
        /// SDP.
        sdp: String,
    },
    /// A phone call is over, and why (ACS's codes: 486/560486 busy, 0/560000 hung up).
    Ended {
        /// The phone participant.
        leg: LegKey,
        /// Why.
        reason: EndReason,
    },
}
