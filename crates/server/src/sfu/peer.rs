//! One participant's media connection: its str0m `Rtc`, the m-lines it publishes on and
//! receives on, and the server-driven SDP negotiation that adds and stops lines.

use super::speakers::Voice;
use crate::signaling::hub::LegKey;
use rtcall_protocol::call::{ParticipantId, StreamId};
use rtcall_protocol::signal::{MediaLine, VideoSource};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, MediaKind, MediaTime, Mid, Rid, Simulcast, SimulcastLayer};
use str0m::Rtc;

/// A peer's id inside the SFU. Never reused, so a stale id finds nothing.
pub type PeerId = u64;

/// Simulcast layers a publisher may send, lowest first (Chrome's quarter, half, full).
pub const LAYERS: [&str; 3] = ["q", "h", "f"];

/// Where an outgoing line is in negotiation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineState {
    /// Wanted; goes into the next offer.
    ToAdd,
    /// In the offer awaiting an answer.
    Offered(Mid),
    /// Negotiated and carrying media.
    Open(Mid),
    /// To be stopped in the next offer.
    ToStop(Mid),
    /// Stopped in the offer awaiting an answer.
    StopOffered(Mid),
}

impl LineState {
    /// The line's mid, once it has one.
    pub fn mid(self) -> Option<Mid> {
        match self {
            LineState::ToAdd => None,
            LineState::Offered(m)
            | LineState::Open(m)
            | LineState::ToStop(m)
            | LineState::StopOffered(m) => Some(m),
        }
    }

    /// Carrying media now.
    pub fn open_mid(self) -> Option<Mid> {
        match self {
            LineState::Open(m) => Some(m),
            _ => None,
        }
    }

    /// Part of the connection the client knows (offered or open, not stopping).
    fn listed_mid(self) -> Option<Mid> {
        match self {
            LineState::Offered(m) | LineState::Open(m) => Some(m),
            _ => None,
        }
    }
}

/// Keeps an outgoing line's RTP timestamps continuous when the source it carries changes (a
/// loudest-speaker slot taking another speaker, a video switching simulcast layer): the first
/// frame of a new source continues from the last frame sent, advanced by the wall-clock gap.
#[derive(Debug, Default, Clone)]
pub struct Retimer {
    last: Option<(u64, Instant)>,
    offset: i64,
    source: Option<(PeerId, Option<Rid>)>,
}

impl Retimer {
    /// Maps a source timestamp to the line's timestamp.
    pub fn map(
        &mut self,
        source: (PeerId, Option<Rid>),
        time: MediaTime,
        wallclock: Instant,
    ) -> MediaTime {
        if self.source != Some(source) {
            let target = match self.last {
                Some((out, at)) => {
                    let gap = wallclock.saturating_duration_since(at).as_secs_f64();
                    let ticks = (gap * f64::from(time.denom())) as u64;
                    out.wrapping_add(ticks.max(1))
                }
                None => time.numer(),
            };
            self.offset = target.wrapping_sub(time.numer()) as i64;
            self.source = Some(source);
        }
        let out = time.numer().wrapping_add(self.offset as u64);
        self.last = Some((out, wallclock));
        MediaTime::new(out, time.frequency())
    }
}

/// A line carrying remote audio to this peer: one participant's (small calls) or a slot for
/// whoever is among the loudest (large calls).
#[derive(Debug)]
pub struct AudioOut {
    pub state: LineState,
    pub source: Option<PeerId>,
    /// Whose audio, told to the client (small calls only).
    pub participant: Option<ParticipantId>,
    pub retimer: Retimer,
}

/// A line carrying a subscribed remote video to this peer.
#[derive(Debug)]
pub struct VideoOut {
    pub state: LineState,
    pub stream_id: StreamId,
    pub source: PeerId,
    pub participant: ParticipantId,
    pub video: VideoSource,
    pub max_height: u32,
    /// The simulcast layer being forwarded (None: none yet, or the publisher does not simulcast).
    pub layer: Option<Rid>,
    /// The layer that fits the rendered size, switched to at its next keyframe.
    pub target: Option<Rid>,
    /// A keyframe has been forwarded since the line (re)started.
    pub started: bool,
    pub retimer: Retimer,
}

/// The publisher's upstream lines.
#[derive(Debug, Clone, Copy)]
pub struct Upstream {
    pub audio: Mid,
    pub camera: Mid,
    pub screen: Mid,
}

/// One participant's connection.
pub struct Peer {
    pub leg: LegKey,
    pub call: u64,
    pub rtc: Rtc,
    pub created: Instant,
    pub connected: bool,
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
    /// Source addresses this peer's traffic came from (to unmap them when it goes).
    pub addresses: Vec<std::net::SocketAddr>,
    /// The connection's quality, as str0m last measured it.
    pub link: LinkStats,
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
}

/// How often a keyframe may be requested for one upstream layer.
pub const KEYFRAME_THROTTLE: Duration = Duration::from_millis(300);

impl Peer {
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

    /// Whether anything waits to be negotiated.
    fn has_changes(&self) -> bool {
        self.upstream.is_none()
            || self
                .audio_out
                .iter()
                .map(|l| l.state)
                .chain(self.video_out.iter().map(|l| l.state))
                .any(|s| matches!(s, LineState::ToAdd | LineState::ToStop(_)))
    }

    /// Builds the next offer if there are changes and no offer is outstanding. Returns the
    /// version, the SDP and what each line carries.
    pub fn negotiate(&mut self, simulcast: bool) -> Option<(u32, SdpOffer, Vec<MediaLine>)> {
        if self.pending.is_some() || !self.has_changes() {
            return None;
        }
        let mut api = self.rtc.sdp_api();
        if self.upstream.is_none() {
            let stream = Some(format!("p{}", self.leg.participant.0));
            let layers = simulcast.then(|| {
                let mut s = Simulcast::new();
                for rid in LAYERS {
                    s.add_recv_layer(SimulcastLayer::new(rid));
                }
                s
            });
            self.upstream = Some(Upstream {
                audio: api.add_media(
                    MediaKind::Audio,
                    Direction::RecvOnly,
                    stream.clone(),
                    None,
                    None,
                ),
                camera: api.add_media(
                    MediaKind::Video,
                    Direction::RecvOnly,
                    stream.clone(),
                    None,
                    layers,
                ),
                screen: api.add_media(MediaKind::Video, Direction::RecvOnly, stream, None, None),
            });
        }
        for line in &mut self.audio_out {
            line.state = match line.state {
                LineState::ToAdd => {
                    let stream = line.participant.map(|p| format!("p{}", p.0));
                    LineState::Offered(api.add_media(
                        MediaKind::Audio,
                        Direction::SendOnly,
                        stream,
                        None,
                        None,
                    ))
                }
                LineState::ToStop(mid) => {
                    api.stop_media(mid);
                    LineState::StopOffered(mid)
                }
                other => other,
            };
        }
        for line in &mut self.video_out {
            line.state = match line.state {
                LineState::ToAdd => {
                    let stream = Some(format!("p{}", line.participant.0));
                    LineState::Offered(api.add_media(
                        MediaKind::Video,
                        Direction::SendOnly,
                        stream,
                        None,
                        None,
                    ))
                }
                LineState::ToStop(mid) => {
                    api.stop_media(mid);
                    LineState::StopOffered(mid)
                }
                other => other,
            };
        }
        let (offer, pending) = api.apply()?;
        self.pending = Some(pending);
        self.version += 1;
        Some((self.version, offer, self.media_lines()))
    }

    /// What each line the client knows carries.
    pub fn media_lines(&self) -> Vec<MediaLine> {
        let mut lines = Vec::new();
        if let Some(up) = self.upstream {
            lines.push(MediaLine::SendAudio {
                mid: up.audio.to_string(),
            });
            lines.push(MediaLine::SendVideo {
                mid: up.camera.to_string(),
                source: VideoSource::Camera,
            });
            lines.push(MediaLine::SendVideo {
                mid: up.screen.to_string(),
                source: VideoSource::Screen,
            });
        }
        for line in &self.audio_out {
            if let Some(mid) = line.state.listed_mid() {
                lines.push(MediaLine::ReceiveAudio {
                    mid: mid.to_string(),
                    participant_id: line.participant,
                });
            }
        }
        for line in &self.video_out {
            if let Some(mid) = line.state.listed_mid() {
                lines.push(MediaLine::ReceiveVideo {
                    mid: mid.to_string(),
                    participant_id: line.participant,
                    stream_id: line.stream_id,
                });
            }
        }
        lines
    }

    /// Applies the client's answer to offer `version`.
    pub fn accept_answer(&mut self, version: u32, sdp: &str) -> Result<(), AnswerError> {
        if version != self.version || self.pending.is_none() {
            return Err(AnswerError::Stale);
        }
        let answer =
            SdpAnswer::from_sdp_string(sdp).map_err(|e| AnswerError::Invalid(e.to_string()))?;
        let pending = self.pending.take().expect("checked above");
        self.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .map_err(|e| AnswerError::Invalid(e.to_string()))?;
        for state in self
            .audio_out
            .iter_mut()
            .map(|l| &mut l.state)
            .chain(self.video_out.iter_mut().map(|l| &mut l.state))
        {
            if let LineState::Offered(mid) = *state {
                *state = LineState::Open(mid);
            }
        }
        self.audio_out
            .retain(|l| !matches!(l.state, LineState::StopOffered(_)));
        self.video_out
            .retain(|l| !matches!(l.state, LineState::StopOffered(_)));
        Ok(())
    }

    /// Marks a line for stopping (or drops it if it was never offered).
    pub fn stop_line(state: &mut LineState) -> bool {
        match *state {
            LineState::ToAdd => false,
            LineState::Offered(mid) | LineState::Open(mid) => {
                *state = LineState::ToStop(mid);
                true
            }
            _ => true,
        }
    }
}

/// Why an answer was refused.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    /// Not an answer to the outstanding offer.
    #[error("the answer is not for the current offer")]
    Stale,
    /// Not valid SDP, or not an acceptable answer.
    #[error("invalid SDP answer: {0}")]
    Invalid(String),
}

/// A layer not seen for this long is no longer being sent (the publisher dropped it).
pub const LAYER_FRESHNESS: Duration = Duration::from_secs(1);

impl Peer {
    /// The simulcast layers of an upstream video seen lately, lowest first.
    pub fn fresh_layers(&self, mid: Mid, now: Instant) -> Vec<Rid> {
        LAYERS
            .iter()
            .map(|rid| Rid::from(*rid))
            .filter(|rid| {
                self.layers_seen
                    .get(&(mid, *rid))
                    .is_some_and(|at| now.saturating_duration_since(*at) < LAYER_FRESHNESS)
            })
            .collect()
    }
}

/// The layer to forward for a rendered height, among the layers being sent (lowest first):
/// the wanted one if sent, else the largest below it, else the smallest. `None` if none.
pub fn choose_layer(sent: &[Rid], max_height: u32) -> Option<Rid> {
    let wanted = layer_for_height(max_height);
    let rank = |rid: &Rid| LAYERS.iter().position(|l| Rid::from(*l) == *rid);
    let wanted_rank = LAYERS.iter().position(|l| *l == wanted);
    sent.iter()
        .rfind(|rid| rank(rid) <= wanted_rank)
        .or_else(|| sent.first())
        .copied()
}

/// The simulcast layer for a rendered height: the smallest layer that is not blurred at that
/// size, assuming Chrome's layers of 1/4, 1/2 and full size of a 720p camera.
pub fn layer_for_height(max_height: u32) -> &'static str {
    match max_height {
        0..=200 => LAYERS[0],
        201..=400 => LAYERS[1],
        _ => LAYERS[2],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use str0m::media::Frequency;

    #[test]
    fn retiming_continues_across_a_source_switch() {
        let start = Instant::now();
        let mut retimer = Retimer::default();
        let t = |n| MediaTime::new(n, Frequency::FORTY_EIGHT_KHZ);
        assert_eq!(retimer.map((1, None), t(1000), start).numer(), 1000);
        let at = start + Duration::from_millis(20);
        assert_eq!(retimer.map((1, None), t(1960), at).numer(), 1960);
        // Another source with an unrelated clock, 20 ms later: continues at +960.
        let at = at + Duration::from_millis(20);
        assert_eq!(retimer.map((2, None), t(777_000), at).numer(), 2920);
        let at = at + Duration::from_millis(20);
        assert_eq!(retimer.map((2, None), t(777_960), at).numer(), 3880);
    }

    #[test]
    fn the_closest_layer_being_sent_is_chosen() {
        let all: Vec<Rid> = LAYERS.iter().map(|r| Rid::from(*r)).collect();
        assert_eq!(choose_layer(&all, 180), Some(Rid::from("q")));
        assert_eq!(choose_layer(&all, 1080), Some(Rid::from("f")));
        // Without the full layer, large viewers get the half one; without the quarter, small
        // viewers get the smallest there is.
        assert_eq!(choose_layer(&all[..2], 1080), Some(Rid::from("h")));
        assert_eq!(choose_layer(&all[1..], 100), Some(Rid::from("h")));
        assert_eq!(choose_layer(&[], 720), None);
    }

    #[test]
    fn layers_by_rendered_height() {
        assert_eq!(layer_for_height(180), "q");
        assert_eq!(layer_for_height(360), "h");
        assert_eq!(layer_for_height(720), "f");
    }
}
