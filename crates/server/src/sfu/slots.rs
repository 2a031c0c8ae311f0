//! Every [`TICK`], for each call: speaking ends after its hangover, the dominant speakers are
//! ranked, and in large calls the loudest-speaker slots are pointed at the loudest few. From
//! the RFC 6464 levels [`Voice`](super::speakers::Voice) keeps per participant.

use super::speakers;
use super::PeerId;
use super::Sfu;
use crate::contract::MediaEvent;
use std::time::{Duration, Instant};

/// Speaking, ranking and loudest-slot evaluation period.
pub const TICK: Duration = Duration::from_millis(200);
/// At most this many ranked dominant speakers are reported.
const MAX_RANKED: usize = 6;

impl Sfu {
    /// Every [`TICK`]: speaking hangovers, dominant speakers, loudest slots.
    pub(super) fn tick(&mut self, now: Instant) {
        let calls: Vec<u64> = self.calls.keys().copied().collect();
        for call in calls {
            let members = self.calls[&call].members.clone();
            let mut loudness = Vec::with_capacity(members.len());
            let mut dominance = Vec::with_capacity(members.len());
            for id in &members {
                let Some(peer) = self.peers.get_mut(id) else {
                    continue;
                };
                if let Some(speaking) = peer.voice.check_hangover(now) {
                    self.events.push_back(MediaEvent::Speaking {
                        leg: peer.leg.clone(),
                        speaking,
                    });
                }
                let held = peer.hold;
                loudness.push((*id, if held { 0.0 } else { peer.voice.loudness(now) }));
                dominance.push((peer.participant(), peer.voice.dominance(now)));
            }
            let Some(call_media) = self.calls.get_mut(&call) else {
                continue;
            };
            let mut ranked = speakers::rank(&call_media.ranked, &dominance);
            ranked.truncate(MAX_RANKED);
            if ranked != call_media.ranked {
                call_media.ranked = ranked.clone();
                self.events.push_back(MediaEvent::DominantSpeakers {
                    call: call_media.id.clone(),
                    ranked,
                });
            }
            if call_media.large {
                let mut loudest = speakers::rank(&call_media.loudest, &loudness);
                // Each member gets the loudest others: one more than the slots covers a member
                // who is among the loudest itself.
                loudest.truncate(self.config.loudest_audio + 1);
                if loudest != call_media.loudest {
                    call_media.loudest = loudest.clone();
                    self.assign_slots(&members, &loudest);
                }
            }
        }
    }

    /// Points each member's slots at the loudest others, keeping slots whose speaker stays.
    fn assign_slots(&mut self, members: &[PeerId], loudest: &[PeerId]) {
        let slots = self.config.loudest_audio;
        for id in members {
            let Some(peer) = self.peers.get_mut(id) else {
                continue;
            };
            let wanted: Vec<PeerId> = loudest
                .iter()
                .copied()
                .filter(|s| s != id)
                .take(slots)
                .collect();
            for line in &mut peer.audio_out {
                if line.source.is_some_and(|s| !wanted.contains(&s)) {
                    line.source = None;
                }
            }
            for source in wanted {
                if peer.audio_out.iter().any(|l| l.source == Some(source)) {
                    continue;
                }
                if let Some(line) = peer.audio_out.iter_mut().find(|l| l.source.is_none()) {
                    line.source = Some(source);
                }
            }
        }
    }
}
