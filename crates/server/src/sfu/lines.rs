//! The lines a connection sends on: where each is in negotiation ([`LineState`]), whose
//! audio or video it carries ([`AudioOut`], [`VideoOut`]), and the [`Retimer`] that keeps its
//! RTP timestamps continuous when what it carries changes. Plain data shared by the
//! negotiation that adds and stops lines and the router that writes to them.

use super::PeerId;
use rtcall_protocol::call::{ParticipantId, StreamId};
use rtcall_protocol::signal::VideoSource;
use std::time::Instant;
use str0m::media::{MediaTime, Mid, Rid};

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
    pub fn listed_mid(self) -> Option<Mid> {
        match self {
            LineState::Offered(m) | LineState::Open(m) => Some(m),
            _ => None,
        }
    }

    /// Not being stopped.
    pub fn is_live(self) -> bool {
        !matches!(self, LineState::ToStop(_) | LineState::StopOffered(_))
    }

    /// Marks the line for stopping; `false` if it was never offered and can simply go.
    pub fn stop(&mut self) -> bool {
        match *self {
            LineState::ToAdd => false,
            LineState::Offered(mid) | LineState::Open(mid) => {
                *self = LineState::ToStop(mid);
                true
            }
            _ => true,
        }
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

impl AudioOut {
    /// A per-participant audio line (small calls).
    pub fn of(source: PeerId, participant: ParticipantId) -> AudioOut {
        AudioOut {
            state: LineState::ToAdd,
            source: Some(source),
            participant: Some(participant),
            retimer: Retimer::default(),
        }
    }

    /// A loudest-speaker slot (large calls), empty until a speaker is assigned.
    pub fn slot() -> AudioOut {
        AudioOut {
            state: LineState::ToAdd,
            source: None,
            participant: None,
            retimer: Retimer::default(),
        }
    }
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
    /// A picture was forwarded on the line before (it has lost it, if not `started`).
    pub shown: bool,
    /// The tallest rendered height the subscriber's bandwidth allows this line now.
    pub cap: u32,
    pub retimer: Retimer,
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
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
}
