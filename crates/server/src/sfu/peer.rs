//! One participant's media connection: its str0m `Rtc`, the lines it publishes on and
//! receives on, its voice, and how its link is doing. What the lines carry and how they are
//! negotiated is `negotiation`'s; what flows on them is `router`'s.

use super::data::DataChannels;
use super::lines::{AudioOut, VideoOut};
use super::speakers::Voice;
use super::PeerId;
use crate::contract::LegKey;
use rtcall_protocol::call::ParticipantId;
use rtcall_protocol::signal::VideoSource;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use str0m::change::SdpPendingOffer;
use str0m::media::{Mid, Rid};
use str0m::Rtc;

/// The publisher's upstream lines.
#[derive(Debug, Clone, Copy)]
pub struct Upstream {
    pub audio: Mid,
    pub camera: Mid,
    pub screen: Mid,
}

/// A connection's quality, from str0m's periodic stats.
#[derive(Debug, Clone, Copy, Default)]
pub struct LinkStats {
    /// Round-trip time, from the client's receiver reports.
    pub rtt: Option<Duration>,
    /// Fraction of the client's packets lost on the way in.
    pub loss: Option<f32>,
    /// Interarrival jitter of the client's audio, in 48 kHz RTP ticks.
    pub audio_jitter: Option<u32>,
    /// What the path to the client carries, as str0m's bandwidth estimate last said (bits/s).
    pub egress: Option<u64>,
}

/// One participant's connection.
pub struct Peer {
    pub leg: LegKey,
    /// Its call, by the SFU's own index.
    pub call: u64,
    pub rtc: Rtc,
    pub created: Instant,
    pub connected: bool,
    /// Since when its path has been lost, while it is.
    pub interrupted: Option<Instant>,
    /// An ICE restart goes into the next offer.
    pub restart_ice: bool,
    /// The username fragment a restart offered, for the demux to learn.
    pub new_ufrag: Option<String>,
    pub hold: bool,
    pub voice: Voice,
    pub upstream: Option<Upstream>,
    pub audio_out: Vec<AudioOut>,
    pub video_out: Vec<VideoOut>,
    /// Subscribers of this peer's camera and screen.
    pub subscribers: Vec<PeerId>,
    /// Offer awaiting the client's answer, and its version.
    pub pending: Option<SdpPendingOffer>,
    pub version: u32,
    /// When this peer's `Rtc` wants `handle_timeout`.
    pub timeout: Option<Instant>,
    /// Last keyframe request sent upstream per (mid, layer), to throttle them.
    pub keyframe_requested: HashMap<(Mid, Option<Rid>), Instant>,
    /// Simulcast layers seen from this publisher lately, per video source.
    pub layers_seen: HashMap<(Mid, Rid), Instant>,
    /// The connection's quality, as str0m last measured it.
    pub link: LinkStats,
    /// When a datagram last came from the client.
    pub last_heard: Option<Instant>,
    /// Its data channels, once offered.
    pub data: Option<DataChannels>,
    /// The participant asked for data channels: the next offer adds them.
    pub data_wanted: bool,
    /// Messages for it that came before its channels opened (durable or not, the message).
    pub data_waiting: Vec<(bool, Vec<u8>)>,
}

impl Peer {
    /// A new connection of `leg`, in the SFU's call `call`, with nothing negotiated yet.
    pub fn new(leg: LegKey, call: u64, rtc: Rtc, now: Instant) -> Peer {
        Peer {
            leg,
            call,
            rtc,
            created: now,
            connected: false,
            interrupted: None,
            restart_ice: false,
            new_ufrag: None,
            hold: false,
            voice: Voice::new(now),
            upstream: None,
            audio_out: Vec::new(),
            video_out: Vec::new(),
            subscribers: Vec::new(),
            pending: None,
            version: 0,
            timeout: None,
            keyframe_requested: HashMap::new(),
            layers_seen: HashMap::new(),
            link: LinkStats::default(),
            last_heard: None,
            data: None,
            data_wanted: false,
            data_waiting: Vec::new(),
        }
    }

    /// The participant.
    pub fn participant(&self) -> ParticipantId {
        self.leg.participant
    }

    /// Which video source an upstream mid carries.
    pub fn video_source_of(&self, mid: Mid) -> Option<VideoSource> {
        let up = self.upstream?;
        if mid == up.camera {
            Some(VideoSource::Camera)
        } else if mid == up.screen {
            Some(VideoSource::Screen)
        } else {
            None
        }
    }

    /// The upstream mid of a video source.
    pub fn video_mid(&self, video: VideoSource) -> Option<Mid> {
        self.upstream.map(|up| match video {
            VideoSource::Camera => up.camera,
            VideoSource::Screen => up.screen,
        })
    }
}
