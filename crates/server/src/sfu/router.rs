//! Forwarding: each media frame a participant publishes goes to the peers that receive it —
//! audio to everyone (small calls) or through the loudest-speaker slots (large calls), video to
//! its subscribers at the simulcast layer that fits each one's rendered size, switching layers
//! at keyframes so the picture never freezes. The work per frame is proportional to its
//! receivers, never to the size of the call. Keyframe requests go back to publishers here too.

use super::lines::LAYERS;
use super::peer::Peer;
use super::PeerId;
use super::Sfu;
use crate::contract::MediaEvent;
use rtcall_protocol::signal::VideoSource;
use std::time::{Duration, Instant};
use str0m::media::{KeyframeRequestKind, MediaData, Mid, Rid};

/// How often a keyframe may be requested for one upstream layer.
pub const KEYFRAME_THROTTLE: Duration = Duration::from_millis(300);

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
    let wanted_rank = LAYERS.iter().position(|l| *l == wanted);
    sent.iter()
        .rfind(|rid| rank(rid) <= wanted_rank)
        .or_else(|| sent.first())
        .copied()
}

/// What forwarding each simulcast layer costs, roughly (Chrome's layers of a 720p camera), in
/// bits/s.
const LAYER_COST: [u64; 3] = [150_000, 500_000, 1_700_000];

/// The height cap of each layer, smallest first.
const LAYER_CAP: [u32; 3] = [200, 400, u32::MAX];

/// Each video's height cap for a subscriber whose path carries `budget` bits/s, given the
/// heights its views want and the caps now in force (`held`): every view gets its smallest layer,
/// then the largest views the layer they want, or the best below it, while the budget lasts. A
/// view keeps a layer it has while the budget covers it but needs a fifth more to move up, so
/// an estimate near a boundary does not switch layers back and forth.
pub fn allocate(wanted: &[u32], held: &[u32], budget: u64) -> Vec<u32> {
    let mut caps = vec![LAYER_CAP[0]; wanted.len()];
    let mut left = budget.saturating_sub(LAYER_COST[0] * wanted.len() as u64);
    let mut order: Vec<usize> = (0..wanted.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(wanted[i]));
    for i in order {
        let want = LAYERS
            .iter()
            .position(|l| *l == layer_for_height(wanted[i]))
            .unwrap_or(0);
        for layer in (1..=want).rev() {
            let extra = LAYER_COST[layer] - LAYER_COST[0];
            let kept = held.get(i).is_some_and(|cap| *cap >= LAYER_CAP[layer]);
            let needed = if kept { extra } else { extra + extra / 5 };
            if needed <= left {
                caps[i] = LAYER_CAP[layer];
                left -= extra;
                break;
            }
        }
    }
    caps
}

/// What a subscriber's video wants (the layers for its views' sizes) and what its current
/// layers cost, in bits/s: the bandwidth estimator probes toward the one and keeps the other.
pub fn video_rates(lines: &[(u32, Option<Rid>)]) -> (u64, u64) {
    let cost = |layer: &str| LAYER_COST[LAYERS.iter().position(|l| *l == layer).unwrap_or(0)];
    lines
        .iter()
        .fold((0, 0), |(wanted, current), (height, layer)| {
            let now = layer.map_or(0, |rid| cost(&rid));
            (wanted + cost(layer_for_height(*height)), current + now)
        })
}

/// A layer's place among [`LAYERS`], smallest first.
fn rank(rid: &Rid) -> Option<usize> {
    LAYERS.iter().position(|l| Rid::from(*l) == *rid)
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

impl Sfu {
    pub(super) fn forward(&mut self, now: Instant, id: PeerId, data: MediaData) {
        self.feed_echo(now, id, &data);
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        let Some(up) = peer.upstream else {
            return;
        };
        if data.mid == up.audio {
            self.forward_audio(now, id, &data);
        } else if let Some(video) = peer.video_source_of(data.mid) {
            if let Some(rid) = data.rid {
                peer.layers_seen.insert((data.mid, rid), now);
            }
            if !data.contiguous {
                let layer = data.rid;
                self.request_keyframe(now, id, video, layer, false);
            }
            self.forward_video(now, id, video, &data);
        }
    }

    fn forward_audio(&mut self, now: Instant, id: PeerId, data: &MediaData) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        if let Some(level) = data.ext_vals.audio_level {
            if let Some(speaking) = peer.voice.observe(now, level) {
                self.events.push_back(MediaEvent::Speaking {
                    leg: peer.leg.clone(),
                    speaking,
                });
            }
        }
        if peer.hold {
            return;
        }
        let call = peer.call;
        let Some(call_media) = self.calls.get(&call) else {
            return;
        };
        if call_media.large && !call_media.loudest.contains(&id) {
            return;
        }
        let level = data.ext_vals.audio_level;
        let voice = data.ext_vals.voice_activity.unwrap_or(false);
        for &receiver in &call_media.members {
            if receiver == id {
                continue;
            }
            let Some(r) = self.peers.get_mut(&receiver) else {
                continue;
            };
            if r.hold {
                continue;
            }
            let Some(line) = r.audio_out.iter_mut().find(|l| l.source == Some(id)) else {
                continue;
            };
            let Some(mid) = line.state.open_mid() else {
                continue;
            };
            let time = line.retimer.map((id, None), data.time, data.network_time);
            let Some(mut writer) = r.rtc.writer(mid) else {
                continue;
            };
            let Some(pt) = writer.match_params(data.params) else {
                continue;
            };
            if let Some(level) = level {
                writer = writer.audio_level(level, voice);
            }
            if let Err(e) = writer.write(pt, data.network_time, time, data.data.clone()) {
                tracing::debug!(error = %e, "audio write failed");
            }
            self.dirty.push(receiver);
        }
    }

    fn forward_video(&mut self, now: Instant, id: PeerId, video: VideoSource, data: &MediaData) {
        let Some(peer) = self.peers.get(&id) else {
            return;
        };
        if peer.hold {
            return;
        }
        let subscribers = peer.subscribers.clone();
        let keyframe = data.is_keyframe();
        let fresh = if data.rid.is_some() {
            peer.fresh_layers(data.mid, now)
        } else {
            Vec::new()
        };
        let mut switched = Vec::new();
        for receiver in subscribers {
            let Some(r) = self.peers.get_mut(&receiver) else {
                continue;
            };
            if r.hold {
                continue;
            }
            let Some(line) = r
                .video_out
                .iter_mut()
                .find(|l| l.source == id && l.video == video)
            else {
                continue;
            };
            let Some(mid) = line.state.open_mid() else {
                continue;
            };
            // Simulcast: forward the current layer; when a better one (for the rendered size,
            // among those arriving) is wanted, keep forwarding the current one until the wanted
            // one's keyframe arrives, then switch, so the picture never freezes. A layer that
            // stopped arriving is dropped at once.
            if let Some(rid) = data.rid {
                let best = choose_layer(&fresh, line.max_height.min(line.cap));
                if best != line.target {
                    line.target = best;
                    switched.push((best, true));
                } else if line.layer != line.target || !line.started {
                    // Still waiting for the wanted layer's keyframe: the publisher may have
                    // ignored the request (browsers rate-limit keyframes); ask again, throttled.
                    switched.push((line.target, false));
                }
                if line.layer.is_none_or(|l| !fresh.contains(&l)) {
                    line.layer = line.target;
                    line.started = false;
                }
                if Some(rid) == line.target && line.layer != line.target && keyframe {
                    line.layer = line.target;
                }
                // A line that lost its picture starts again with the first keyframe of any
                // layer up to the wanted one (the wanted one follows): after a gap every layer
                // needs one, and waiting for one layer's in particular freezes it longer. (A new
                // line waits for its own layer: nothing is frozen yet.)
                if !line.started
                    && line.shown
                    && keyframe
                    && fresh.contains(&rid)
                    && rank(&rid) <= line.target.as_ref().and_then(rank)
                {
                    line.layer = Some(rid);
                }
                if Some(rid) != line.layer {
                    continue;
                }
            }
            if !line.started {
                if !keyframe {
                    if data.rid.is_none() {
                        switched.push((None, false));
                    }
                    continue;
                }
                line.started = true;
                line.shown = true;
            }
            let time = line
                .retimer
                .map((id, data.rid), data.time, data.network_time);
            let Some(writer) = r.rtc.writer(mid) else {
                continue;
            };
            let Some(pt) = writer.match_params(data.params) else {
                continue;
            };
            if let Err(e) = writer.write(pt, data.network_time, time, data.data.clone()) {
                tracing::debug!(error = %e, "video write failed");
            }
            self.dirty.push(receiver);
        }
        switched.dedup();
        for (layer, urgent) in switched {
            self.request_keyframe(now, id, video, layer, urgent);
        }
    }

    /// Asks a publisher for a keyframe on a layer, at most every [`KEYFRAME_THROTTLE`] unless
    /// `urgent` (a new subscriber or layer).
    pub(super) fn request_keyframe(
        &mut self,
        now: Instant,
        source: PeerId,
        video: VideoSource,
        layer: Option<Rid>,
        urgent: bool,
    ) {
        let Some(peer) = self.peers.get_mut(&source) else {
            return;
        };
        let Some(mid) = peer.video_mid(video) else {
            return;
        };
        let key = (mid, layer);
        if !urgent
            && peer
                .keyframe_requested
                .get(&key)
                .is_some_and(|at| now.saturating_duration_since(*at) < KEYFRAME_THROTTLE)
        {
            return;
        }
        let Some(mut writer) = peer.rtc.writer(mid) else {
            return;
        };
        if writer
            .request_keyframe(layer, KeyframeRequestKind::Pli)
            .is_ok()
        {
            peer.keyframe_requested.insert(key, now);
            self.dirty.push(source);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_narrow_path_gets_smaller_layers_biggest_views_first() {
        const MAX: u32 = u32::MAX;
        // A big view and a thumbnail on a clean path: each gets what it wants.
        assert_eq!(allocate(&[720, 180], &[MAX, MAX], 2_250_000), [MAX, 200]);
        // Two big views that do not both fit: the full layer for one, the middle for the other.
        assert_eq!(allocate(&[720, 720], &[MAX, MAX], 2_250_000), [MAX, 400]);
        // A narrow path: the smallest layers.
        assert_eq!(allocate(&[720, 720], &[MAX, MAX], 300_000), [200, 200]);
        // Moving up needs a fifth more than the layer costs; keeping it does not.
        assert_eq!(allocate(&[720], &[400], 1_800_000), [400]);
        assert_eq!(allocate(&[720], &[400], 2_100_000), [MAX]);
        assert_eq!(allocate(&[720], &[MAX], 1_800_000), [MAX]);
        // Two views: a big one on its middle layer, a thumbnail on its smallest.
        let lines = [(720, Some(Rid::from("h"))), (180, Some(Rid::from("q")))];
        assert_eq!(video_rates(&lines), (1_850_000, 650_000));
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
