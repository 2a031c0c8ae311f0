//! Server-driven SDP negotiation: which lines each connection has (its three upstream lines,
//! one audio line per remote participant or per loudest-speaker slot, one video line per
//! subscription, data channels once asked for), the offers that add and stop them, the client's answers, and subscribing to
//! and unsubscribing from remote video. One offer is outstanding per connection at a time;
//! changes made meanwhile go into the next.

use super::data::DataChannels;
use super::lines::{LineState, Retimer, VideoOut, LAYERS};
use super::peer::{Peer, Upstream};
use super::PeerId;
use super::Sfu;
use crate::contract::{LegKey, MediaEvent, ReplyTo};
use rtcall_protocol::call::{ParticipantId, StreamId};
use rtcall_protocol::signal::{ErrorKind, MediaLine, VideoSource, WireError};
use std::time::Instant;
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::media::{Direction, MediaKind, Rid, Simulcast, SimulcastLayer};

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

/// Asks the client's Opus encoder for DTX (`usedtx=1`, RFC 7587 §6.1) in an offer: str0m
/// offers in-band FEC but has no setting for DTX. Every Opus `a=fmtp` line gets it.
pub fn with_dtx(sdp: &str) -> String {
    let mut out = String::with_capacity(sdp.len() + 64);
    let mut opus_pts = Vec::new();
    for line in sdp.split_inclusive('\n') {
        if let Some(rest) = line.strip_prefix("a=rtpmap:") {
            let mut parts = rest.split_whitespace();
            if let (Some(pt), Some(codec)) = (parts.next(), parts.next()) {
                if codec.to_ascii_lowercase().starts_with("opus/") {
                    opus_pts.push(pt.to_owned());
                }
            }
        }
        let fmtp_pt = line
            .strip_prefix("a=fmtp:")
            .and_then(|rest| rest.split_whitespace().next());
        match fmtp_pt {
            Some(pt) if opus_pts.iter().any(|p| p == pt) && !line.contains("usedtx") => {
                let body = line.trim_end_matches(['\r', '\n']);
                out.push_str(body);
                out.push_str(";usedtx=1");
                out.push_str(&line[body.len()..]);
            }
            _ => out.push_str(line),
        }
    }
    out
}

/// The msid stream of a participant's lines (`p<id>`), so the client groups them.
fn stream_of(participant: ParticipantId) -> String {
    format!("p{}", participant.0)
}

impl Peer {
    /// Whether anything waits to be negotiated.
    fn has_changes(&self) -> bool {
        self.upstream.is_none()
            || self.restart_ice
            || (self.data_wanted && self.data.is_none())
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
            let stream = Some(stream_of(self.leg.participant));
            let layers = simulcast.then(|| {
                let mut s = Simulcast::new();
                for rid in LAYERS {
                    s.add_recv_layer(SimulcastLayer::new(rid));
                }
                s
            });
            let mut receive = |kind, layers| {
                api.add_media(kind, Direction::RecvOnly, stream.clone(), None, layers)
            };
            self.upstream = Some(Upstream {
                audio: receive(MediaKind::Audio, None),
                camera: receive(MediaKind::Video, layers),
                screen: receive(MediaKind::Video, None),
            });
        }
        let audio = self
            .audio_out
            .iter_mut()
            .map(|l| (MediaKind::Audio, l.participant, &mut l.state));
        let video = self
            .video_out
            .iter_mut()
            .map(|l| (MediaKind::Video, Some(l.participant), &mut l.state));
        for (kind, participant, state) in audio.chain(video) {
            *state = match *state {
                LineState::ToAdd => LineState::Offered(api.add_media(
                    kind,
                    Direction::SendOnly,
                    participant.map(stream_of),
                    None,
                    None,
                )),
                LineState::ToStop(mid) => {
                    api.stop_media(mid);
                    LineState::StopOffered(mid)
                }
                other => other,
            };
        }
        if self.data_wanted && self.data.is_none() {
            self.data = Some(DataChannels::offer(&mut api));
        }
        if std::mem::take(&mut self.restart_ice) {
            self.new_ufrag = Some(api.ice_restart(true).ufrag);
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
        if version != self.version {
            return Err(AnswerError::Stale);
        }
        let pending = self.pending.take().ok_or(AnswerError::Stale)?;
        let answer = match SdpAnswer::from_sdp_string(sdp) {
            Ok(answer) => answer,
            Err(e) => {
                // Still waiting for a good answer to the same offer.
                self.pending = Some(pending);
                return Err(AnswerError::Invalid(e.to_string()));
            }
        };
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

    /// Stops the lines carrying `source`'s audio to this peer.
    pub fn stop_audio_from(&mut self, source: PeerId) {
        self.audio_out
            .retain_mut(|line| line.source != Some(source) || line.state.stop());
    }

    /// Stops the lines carrying `source`'s video to this peer.
    pub fn stop_video_from(&mut self, source: PeerId) {
        self.video_out
            .retain_mut(|line| line.source != source || line.state.stop());
    }
}

impl Sfu {
    /// Offers a peer's pending changes, unless an offer is outstanding.
    pub(super) fn negotiate(&mut self, id: PeerId) {
        let simulcast = self.config.simulcast;
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        if let Some((version, offer, media)) = peer.negotiate(simulcast) {
            if let Some(ufrag) = peer.new_ufrag.take() {
                self.demux.add(id, ufrag);
            }
            self.events.push_back(MediaEvent::Offer {
                leg: peer.leg.clone(),
                version,
                sdp: with_dtx(&offer.to_sdp_string()),
                media,
            });
            self.dirty.push(id);
        }
    }

    /// The client answered offer `version`: the outcome goes to the hub as
    /// [`MediaEvent::Answered`] (before anything the answer leads to), then new lines start
    /// and the next changes, if any, are offered.
    pub(super) fn answer(
        &mut self,
        now: Instant,
        leg: LegKey,
        version: u32,
        sdp: &str,
        reply: Option<ReplyTo>,
    ) {
        let outcome = self.apply_answer(&leg, version, sdp);
        let applied = outcome.as_ref().ok().copied();
        self.events.push_back(MediaEvent::Answered {
            leg,
            reply,
            outcome: outcome.map(|_| ()),
        });
        let Some(id) = applied else {
            return;
        };
        // New video lines start with a keyframe.
        let starting: Vec<(PeerId, VideoSource, Option<Rid>)> = self
            .peers
            .get(&id)
            .into_iter()
            .flat_map(|peer| &peer.video_out)
            .filter(|l| !l.started && matches!(l.state, LineState::Open(_)))
            .map(|l| (l.source, l.video, l.layer))
            .collect();
        for (source, video, layer) in starting {
            self.request_keyframe(now, source, video, layer, true);
        }
        self.negotiate(id);
        self.drive(now, id);
        self.drive_dirty(now);
        if self.echo_bots.contains_key(&id) {
            self.drive_echo(now);
        }
    }

    /// Applies an answer to the leg's outstanding offer; returns its peer.
    fn apply_answer(&mut self, leg: &LegKey, version: u32, sdp: &str) -> Result<PeerId, WireError> {
        let Some((id, peer)) = self.peer_of_mut(leg) else {
            return Err(WireError::new(
                ErrorKind::CallNotFound,
                "no media connection",
            ));
        };
        peer.accept_answer(version, sdp).map_err(|e| match e {
            AnswerError::Stale => WireError::new(ErrorKind::WrongState, e.to_string()),
            AnswerError::Invalid(_) => WireError::new(ErrorKind::InvalidArgument, e.to_string()),
        })?;
        Ok(id)
    }

    /// Forwards `source`'s `video` to the subscriber `leg` as stream `stream_id`, at the layer
    /// that fits `max_height`; a stream already subscribed only changes its size.
    pub(super) fn subscribe(
        &mut self,
        now: Instant,
        leg: &LegKey,
        source: ParticipantId,
        video: VideoSource,
        stream_id: StreamId,
        max_height: u32,
    ) {
        let Some(id) = self.peer_id(leg) else {
            return;
        };
        let source_leg = LegKey {
            call: leg.call.clone(),
            participant: source,
        };
        let echo_bot = self.echo_bot_id(&source_leg);
        let Some(source_id) = echo_bot.or_else(|| self.peer_id(&source_leg)) else {
            return;
        };
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        if let Some(line) = peer
            .video_out
            .iter_mut()
            .find(|l| l.stream_id == stream_id && l.state.is_live())
        {
            // A new size: forwarding picks the layer that fits from the next packet on.
            line.max_height = max_height;
            return;
        }
        peer.video_out.push(VideoOut {
            state: LineState::ToAdd,
            stream_id,
            source: source_id,
            participant: source,
            video,
            max_height,
            layer: None,
            target: None,
            started: false,
            shown: false,
            cap: u32::MAX,
            retimer: Retimer::default(),
        });
        if let Some(source_peer) = self.peers.get_mut(&source_id) {
            if !source_peer.subscribers.contains(&id) {
                source_peer.subscribers.push(id);
            }
        }
        self.negotiate(id);
        self.drive_dirty(now);
    }

    /// Stops forwarding stream `stream_id` to the subscriber `leg`.
    pub(super) fn unsubscribe(&mut self, now: Instant, leg: &LegKey, stream_id: StreamId) {
        let Some((id, peer)) = self.peer_of_mut(leg) else {
            return;
        };
        let Some(source) = peer
            .video_out
            .iter()
            .find(|l| l.stream_id == stream_id)
            .map(|l| l.source)
        else {
            return;
        };
        peer.video_out
            .retain_mut(|line| line.stream_id != stream_id || line.state.stop());
        let still_subscribed = peer
            .video_out
            .iter()
            .any(|l| l.source == source && l.state.is_live());
        if !still_subscribed {
            if let Some(source_peer) = self.peers.get_mut(&source) {
                source_peer.subscribers.retain(|s| *s != id);
            }
        }
        self.negotiate(id);
        self.drive_dirty(now);
    }
}

#[cfg(test)]
mod tests {
    use super::with_dtx;

    #[test]
    fn dtx_is_asked_of_opus_and_nothing_else() {
        let sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 63 111\r\na=rtpmap:63 red/48000/2\r\n\
                   a=fmtp:63 111/111\r\na=rtpmap:111 opus/48000/2\r\n\
                   a=fmtp:111 minptime=10;useinbandfec=1\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n\
                   a=rtpmap:96 VP8/90000\r\n";
        let out = with_dtx(sdp);
        assert!(out.contains("a=fmtp:111 minptime=10;useinbandfec=1;usedtx=1\r\n"));
        assert!(out.contains("a=fmtp:63 111/111\r\n"));
        assert_eq!(out.len(), sdp.len() + ";usedtx=1".len());
        // Already asked: unchanged.
        assert_eq!(with_dtx(&out), out);
    }
}
