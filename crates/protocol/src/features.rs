//! Call features beyond the call itself, as ACS's `call.feature(Features.X)` offers them: what a
//! participant may do (roles and capabilities), raised hands, reactions, spotlights, real-time
//! text, blind transfer and data channels.
//!
//! Their messages travel inside [`Request::Feature`](crate::signal::Request::Feature) and
//! [`Event::Feature`](crate::signal::Event::Feature). The service reads them as the types here;
//! the browser library's core carries them as JSON text ([`RawJson`]) between the service and
//! the feature's own code, which loads only when an app first asks for the feature, so that a
//! new feature never changes the core.
//!
//! ```
//! use rtcall_protocol::features::{FeatureRequest, Reaction};
//!
//! let request: FeatureRequest = serde_json::from_str(r#"{"reaction": {"reaction": "applause"}}"#).unwrap();
//! assert_eq!(request, FeatureRequest::Reaction { reaction: Reaction::Applause });
//! ```

use crate::call::{EndReason, ParticipantId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A participant's role in a call (`ParticipantRole`): what it may do follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Role {
    /// A participant of an ad hoc call (started with `startCall`), where roles do not apply.
    #[default]
    Unknown,
    /// Joined a group call with a lobby: it was admitted, and may take part but not manage.
    Attendee,
    /// Joined a group call without a lobby: it may do everything but end it for everyone.
    Presenter,
    /// Made the group call (its first joiner): it may do everything.
    Organizer,
}

/// What a participant may do (`ParticipantCapabilityName`), with ACS's names.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Capability {
    TurnVideoOn,
    UnmuteMic,
    ShareScreen,
    RemoveParticipant,
    HangUpForEveryOne,
    AddCommunicationUser,
    AddTeamsUser,
    AddPhoneNumber,
    ManageLobby,
    SpotlightParticipant,
    RemoveParticipantsSpotlight,
    BlurBackground,
    StartLiveMeetingCaptions,
    StartLiveCallingCaptions,
    SetCaptionLanguage,
    RaiseHand,
    PstnDialOut,
    MuteOthers,
    UseReactions,
    ViewAttendeeNames,
    StartTogetherMode,
    JoinBreakoutRooms,
    ForbidOthersAudio,
    ForbidOthersVideo,
    RealTimeText,
}

impl Capability {
    /// Every capability, in ACS's order.
    pub const ALL: [Capability; 25] = [
        Capability::TurnVideoOn,
        Capability::UnmuteMic,
        Capability::ShareScreen,
        Capability::RemoveParticipant,
        Capability::HangUpForEveryOne,
        Capability::AddCommunicationUser,
        Capability::AddTeamsUser,
        Capability::AddPhoneNumber,
        Capability::ManageLobby,
        Capability::SpotlightParticipant,
        Capability::RemoveParticipantsSpotlight,
        Capability::BlurBackground,
        Capability::StartLiveMeetingCaptions,
        Capability::StartLiveCallingCaptions,
        Capability::SetCaptionLanguage,
        Capability::RaiseHand,
        Capability::PstnDialOut,
        Capability::MuteOthers,
        Capability::UseReactions,
        Capability::ViewAttendeeNames,
        Capability::StartTogetherMode,
        Capability::JoinBreakoutRooms,
        Capability::ForbidOthersAudio,
        Capability::ForbidOthersVideo,
        Capability::RealTimeText,
    ];
}

/// Whether a participant has a capability, and if not why (`CapabilityResolutionReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CapabilityReason {
    /// It has it.
    Capable,
    /// Not in this kind of call (muting others in a 1:1 call, managing a lobby without one).
    CapabilityNotApplicableForTheCallType,
    /// Its role does not allow it.
    RoleRestricted,
    /// The service does not offer it (captions, Teams users, …).
    FeatureNotSupported,
}

/// A reaction (`Reaction`).
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Reaction {
    Like,
    Heart,
    Laugh,
    Surprised,
    Applause,
}

/// How a blind transfer goes, as the participant that asked for it sees it (`TransferState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TransferState {
    /// The target is being reached.
    Transferring,
    /// The target answered: the call goes on between it and the other participant.
    Transferred,
    /// The target did not answer; the call goes on as before.
    Failed,
}

/// The most participants spotlighted at once in a call (ACS's default).
pub const MAX_SPOTLIGHTS: u32 = 7;

/// The longest real-time text message, in characters.
pub const MAX_REAL_TIME_TEXT_CHARS: usize = 2_000;

/// The largest data channel message payload, in bytes (ACS's `maxMessageSize`).
pub const MAX_DATA_MESSAGE_BYTES: usize = 32 * 1024;

/// Most recipients named in one data channel message (ACS's limit).
pub const MAX_DATA_RECIPIENTS: usize = 64;

/// A feature request, inside [`Request::Feature`](crate::signal::Request::Feature).
/// Participants are named by raw id, as the app names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum FeatureRequest {
    /// Raises or lowers this participant's hand.
    RaiseHand {
        /// Raised or lowered.
        raised: bool,
    },
    /// Lowers others' hands: these, or everyone's (`None`).
    LowerHands {
        /// Raw ids.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        targets: Option<Vec<String>>,
    },
    /// Sends a reaction to everyone in the call.
    Reaction {
        /// Which.
        reaction: Reaction,
    },
    /// Starts or stops spotlighting participants (raw ids; none: this one).
    Spotlight {
        /// Raw ids.
        #[serde(default)]
        targets: Vec<String>,
        /// Start or stop.
        on: bool,
    },
    /// Stops every spotlight.
    StopAllSpotlight,
    /// A real-time text message, sent as it is typed: partial until `finalized`.
    RealTimeText {
        /// The message's number: a later message with the same number replaces it.
        sequence_id: u32,
        /// The text so far.
        text: String,
        /// The message is complete.
        #[serde(default)]
        finalized: bool,
    },
    /// Hands this 1:1 call over to someone else (raw id of a user or a phone number): the
    /// other participant is called to them, and this one leaves once they answer.
    Transfer {
        /// Raw id.
        target: String,
    },
    /// Opens this endpoint's data channels on its media connection (the service offers them
    /// in a new SDP offer): messages then go to and from the others who have theirs open.
    OpenDataChannel,
}

/// One participant in an ordered list (raised hands, spotlights), with its `order` (1 first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ordered {
    /// Who.
    pub participant_id: ParticipantId,
    /// Its place, from 1.
    pub order: u32,
}

/// A feature event, inside [`Event::Feature`](crate::signal::Event::Feature). Lists are whole
/// (they are short), so a client that starts listening late needs only the last one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum FeatureEvent {
    /// Whose hands are raised, in the order they were raised.
    RaisedHands {
        /// Participants with their order.
        hands: Vec<Ordered>,
    },
    /// Who is spotlighted, in the order they were.
    Spotlights {
        /// Participants with their order.
        participants: Vec<Ordered>,
        /// The most that can be at once.
        max: u32,
    },
    /// What this endpoint's participant may do, and why not where it may not.
    Capabilities {
        /// Every capability.
        capabilities: BTreeMap<Capability, CapabilityReason>,
    },
    /// Someone sent a reaction (this endpoint's own included).
    Reaction {
        /// Who.
        participant_id: ParticipantId,
        /// Which.
        reaction: Reaction,
    },
    /// Someone typed real-time text (never this endpoint's own).
    RealTimeText {
        /// Who.
        participant_id: ParticipantId,
        /// The message's number (see [`FeatureRequest::RealTimeText`]).
        sequence_id: u32,
        /// The text so far.
        text: String,
        /// The message is complete.
        finalized: bool,
    },
    /// How the transfer this endpoint asked for goes.
    Transfer {
        /// Its state.
        state: TransferState,
        /// Why it failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<EndReason>,
    },
}

/// The label of the data channel whose messages arrive, in order (ACS's `Durable`).
pub const DATA_DURABLE: &str = "rtcall-durable";

/// The label of the data channel whose messages may be lost or reordered (ACS's `Lossy`).
pub const DATA_LOSSY: &str = "rtcall-lossy";

/// A data channel message as a client sends it: an 8-byte header (version 1, a byte of flags,
/// the app's channel id, the message's sequence number), the recipients (a count byte, then
/// that many participant ids; none: everyone else), then the payload. Big-endian.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataMessage<'a> {
    /// The app's channel (`DataChannelSender.channelId`).
    pub channel: u16,
    /// The sender's sequence number.
    pub sequence: u32,
    /// To whom; empty: everyone else in the call.
    pub to: Vec<ParticipantId>,
    /// The message.
    pub payload: &'a [u8],
}

impl<'a> DataMessage<'a> {
    /// Reads a message from a client; `None` if it is not one (short, another version, more
    /// recipients than [`MAX_DATA_RECIPIENTS`] or a payload over [`MAX_DATA_MESSAGE_BYTES`]).
    pub fn parse(bytes: &'a [u8]) -> Option<Self> {
        let (header, rest) = bytes.split_first_chunk::<9>()?;
        if header[0] != 1 {
            return None;
        }
        let count = usize::from(header[8]);
        if count > MAX_DATA_RECIPIENTS || rest.len() < count * 4 {
            return None;
        }
        let (ids, payload) = rest.split_at(count * 4);
        if payload.len() > MAX_DATA_MESSAGE_BYTES {
            return None;
        }
        Some(DataMessage {
            channel: u16::from_be_bytes([header[2], header[3]]),
            sequence: u32::from_be_bytes([header[4], header[5], header[6], header[7]]),
            to: ids
                .chunks_exact(4)
                .map(|id| ParticipantId(u32::from_be_bytes([id[0], id[1], id[2], id[3]])))
                .collect(),
            payload,
        })
    }

    /// The message as the service hands it to a recipient: the same 8-byte header, then the
    /// sender's participant id (4 bytes), then the payload.
    pub fn forwarded(&self, from: ParticipantId) -> Vec<u8> {
        let mut out = Vec::with_capacity(12 + self.payload.len());
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&self.channel.to_be_bytes());
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&from.0.to_be_bytes());
        out.extend_from_slice(self.payload);
        out
    }
}

/// A feature message as JSON text, as the browser core carries it without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawJson(pub String);

/// Writes the JSON the text holds (for tests that compare frames; invalid text fails).
#[cfg(feature = "json")]
impl Serialize for RawJson {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let value: serde_json::Value =
            serde_json::from_str(&self.0).map_err(serde::ser::Error::custom)?;
        value.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn capabilities_and_reasons_have_acs_names() {
        let event = FeatureEvent::Capabilities {
            capabilities: [
                (Capability::HangUpForEveryOne, CapabilityReason::Capable),
                (Capability::MuteOthers, CapabilityReason::RoleRestricted),
            ]
            .into(),
        };
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            json!({"capabilities": {"capabilities": {"hangUpForEveryOne": "Capable", "muteOthers": "RoleRestricted"}}})
        );
        let names: Vec<String> = Capability::ALL
            .iter()
            .map(|c| {
                serde_json::to_value(c)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(names[0], "turnVideoOn");
        assert_eq!(names[24], "realTimeText");
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 25);
    }

    #[test]
    fn data_messages_name_their_recipients_and_are_forwarded_with_their_sender() {
        let mut sent = vec![1, 0, 0x03, 0xe8, 0, 0, 0, 7, 2, 0, 0, 0, 4, 0, 0, 0, 9];
        sent.extend_from_slice(b"abc");
        let message = DataMessage::parse(&sent).expect("a message");
        assert_eq!(
            message,
            DataMessage {
                channel: 1000,
                sequence: 7,
                to: vec![ParticipantId(4), ParticipantId(9)],
                payload: b"abc",
            }
        );
        assert_eq!(
            message.forwarded(ParticipantId(2)),
            [1, 0, 0x03, 0xe8, 0, 0, 0, 7, 0, 0, 0, 2, b'a', b'b', b'c']
        );
        // Short, another version, recipients missing, too many, too large: not messages.
        assert_eq!(DataMessage::parse(&sent[..8]), None);
        assert_eq!(DataMessage::parse(&[2, 0, 0, 1, 0, 0, 0, 1, 0]), None);
        assert_eq!(
            DataMessage::parse(&[1, 0, 0, 1, 0, 0, 0, 1, 2, 0, 0, 0]),
            None
        );
        let mut many = vec![1, 0, 0, 1, 0, 0, 0, 1, 65];
        many.extend(std::iter::repeat_n(0, 65 * 4));
        assert_eq!(DataMessage::parse(&many), None);
        let mut large = vec![1, 0, 0, 1, 0, 0, 0, 1, 0];
        large.extend(std::iter::repeat_n(0, MAX_DATA_MESSAGE_BYTES + 1));
        assert_eq!(DataMessage::parse(&large), None);
        large.pop();
        assert!(DataMessage::parse(&large).is_some());
    }

    #[test]
    fn requests_are_keyed_by_name() {
        let request: FeatureRequest = serde_json::from_value(
            json!({"realTimeText": {"sequenceId": 3, "text": "hel", "finalized": false}}),
        )
        .unwrap();
        assert_eq!(
            request,
            FeatureRequest::RealTimeText {
                sequence_id: 3,
                text: "hel".into(),
                finalized: false
            }
        );
        assert_eq!(
            serde_json::to_value(FeatureRequest::StopAllSpotlight).unwrap(),
            json!("stopAllSpotlight")
        );
        assert!(serde_json::from_value::<FeatureRequest>(
            json!({"reaction": {"reaction": "thumbsDown"}})
        )
        .is_err());
    }
}
