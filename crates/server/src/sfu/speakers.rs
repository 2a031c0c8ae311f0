//! Who is speaking, from the RFC 6464 audio levels senders put on every audio packet: a
//! per-participant voice detector with hangover (for `isSpeaking`), a fast loudness score (which
//! sources large calls forward) and a slow dominance score (the `DominantSpeakers` ranking).
//! Pure arithmetic on levels and times.

use std::time::{Duration, Instant};

/// A packet at least this loud (dBov, 0 is loudest, -127 silence) counts as voice.
const VOICE_DBOV: i8 = -50;
/// Voiced packets needed in a row to start speaking (about 60 ms of 20 ms packets).
const START_STREAK: u32 = 3;
/// Silence that ends speaking.
const HANGOVER: Duration = Duration::from_millis(600);
/// Half-lives of the fast (forwarding) and slow (dominance) scores.
const FAST_HALF_LIFE: Duration = Duration::from_millis(400);
const SLOW_HALF_LIFE: Duration = Duration::from_millis(2500);
/// A challenger must beat the speaker ranked above it by this factor to pass it, so that two
/// people talking alike do not swap places on every evaluation.
const OVERTAKE: f32 = 1.2;
/// Scores below this no longer rank.
const MIN_SCORE: f32 = 0.05;

/// One participant's voice.
#[derive(Debug, Clone)]
pub struct Voice {
    speaking: bool,
    streak: u32,
    last_voiced: Option<Instant>,
    fast: f32,
    slow: f32,
    updated: Instant,
}

fn decay(score: f32, elapsed: Duration, half_life: Duration) -> f32 {
    score * 0.5f32.powf(elapsed.as_secs_f32() / half_life.as_secs_f32())
}

impl Voice {
    /// Silence, as of `now`.
    pub fn new(now: Instant) -> Self {
        Voice {
            speaking: false,
            streak: 0,
            last_voiced: None,
            fast: 0.0,
            slow: 0.0,
            updated: now,
        }
    }

    fn age(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated);
        self.fast = decay(self.fast, elapsed, FAST_HALF_LIFE);
        self.slow = decay(self.slow, elapsed, SLOW_HALF_LIFE);
        self.updated = now;
    }

    /// One audio packet's level. Returns the new speaking state if it changed.
    pub fn observe(&mut self, now: Instant, level_dbov: i8) -> Option<bool> {
        self.age(now);
        if level_dbov >= VOICE_DBOV {
            // Louder packets weigh more: 0 at the threshold, 1 at full scale.
            let weight = f32::from(level_dbov - VOICE_DBOV) / f32::from(-VOICE_DBOV) + 0.1;
            self.fast += weight;
            self.slow += weight;
            self.streak += 1;
            self.last_voiced = Some(now);
            if !self.speaking && self.streak >= START_STREAK {
                self.speaking = true;
                return Some(true);
            }
        } else {
            self.streak = 0;
        }
        self.check_hangover(now)
    }

    /// Ends speaking after [`HANGOVER`] of silence (also when no packets arrive at all).
    pub fn check_hangover(&mut self, now: Instant) -> Option<bool> {
        let silent = self
            .last_voiced
            .is_none_or(|t| now.saturating_duration_since(t) >= HANGOVER);
        if self.speaking && silent {
            self.speaking = false;
            self.streak = 0;
            return Some(false);
        }
        None
    }

    /// Speaking now.
    pub fn speaking(&self) -> bool {
        self.speaking
    }

    /// How loud lately (fast score), aged to `now`.
    pub fn loudness(&mut self, now: Instant) -> f32 {
        self.age(now);
        self.fast
    }

    /// How dominant lately (slow score), aged to `now`.
    pub fn dominance(&mut self, now: Instant) -> f32 {
        self.age(now);
        self.slow
    }
}

/// Ranks `(id, score)` pairs, most first, keeping `previous` order unless a score beats the
/// one above it by [`OVERTAKE`]. Scores under [`MIN_SCORE`] drop out.
pub fn rank<T: Copy + PartialEq>(previous: &[T], scores: &[(T, f32)]) -> Vec<T> {
    let score_of = |id: T| {
        scores
            .iter()
            .find(|(s, _)| *s == id)
            .map_or(0.0, |(_, score)| *score)
    };
    // Start from the previous order (still active), then newcomers by score.
    let mut ranked: Vec<(T, f32)> = previous
        .iter()
        .map(|id| (*id, score_of(*id)))
        .filter(|(_, s)| *s >= MIN_SCORE)
        .collect();
    let mut newcomers: Vec<(T, f32)> = scores
        .iter()
        .filter(|(id, s)| *s >= MIN_SCORE && !previous.contains(id))
        .copied()
        .collect();
    newcomers.sort_by(|a, b| b.1.total_cmp(&a.1));
    ranked.extend(newcomers);
    // Bubble up whoever clearly out-scores the one above.
    loop {
        let mut swapped = false;
        for i in 1..ranked.len() {
            if ranked[i].1 > ranked[i - 1].1 * OVERTAKE {
                ranked.swap(i, i - 1);
                swapped = true;
            }
        }
        if !swapped {
            break;
        }
    }
    ranked.into_iter().map(|(id, _)| id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: Duration = Duration::from_millis(20);

    fn feed(voice: &mut Voice, now: &mut Instant, level: i8, frames: u32) -> Vec<bool> {
        let mut changes = Vec::new();
        for _ in 0..frames {
            *now += FRAME;
            changes.extend(voice.observe(*now, level));
        }
        changes
    }

    #[test]
    fn speaking_starts_after_a_few_voiced_frames_and_ends_after_the_hangover() {
        let mut now = Instant::now();
        let mut voice = Voice::new(now);
        assert!(feed(&mut voice, &mut now, -30, 2).is_empty());
        assert_eq!(feed(&mut voice, &mut now, -30, 1), vec![true]);
        assert!(feed(&mut voice, &mut now, -30, 50).is_empty());
        // 500 ms of silence: still speaking (a pause between words).
        assert!(feed(&mut voice, &mut now, -127, 25).is_empty());
        assert_eq!(feed(&mut voice, &mut now, -127, 5), vec![false]);
        // No packets at all (DTX or mute) also ends it.
        feed(&mut voice, &mut now, -20, 5);
        assert!(voice.speaking());
        assert_eq!(voice.check_hangover(now + HANGOVER), Some(false));
    }

    #[test]
    fn noise_and_clicks_are_not_speech() {
        let mut now = Instant::now();
        let mut voice = Voice::new(now);
        assert!(feed(&mut voice, &mut now, -70, 100).is_empty());
        for _ in 0..10 {
            feed(&mut voice, &mut now, -20, 2);
            feed(&mut voice, &mut now, -90, 3);
        }
        assert!(!voice.speaking());
    }

    #[test]
    fn scores_follow_loudness_and_decay() {
        let mut now = Instant::now();
        let mut loud = Voice::new(now);
        let mut quiet = Voice::new(now);
        for _ in 0..50 {
            now += FRAME;
            loud.observe(now, -10);
            quiet.observe(now, -45);
        }
        assert!(loud.loudness(now) > 2.0 * quiet.loudness(now));
        let before = loud.dominance(now);
        assert!(loud.dominance(now + SLOW_HALF_LIFE) < before * 0.51);
    }

    #[test]
    fn ranking_is_by_score_with_hysteresis() {
        assert_eq!(rank::<u32>(&[], &[(1, 1.0), (2, 3.0), (3, 0.01)]), [2, 1]);
        // 2 was ahead; 1 is only slightly louder now: order kept.
        assert_eq!(rank(&[2, 1], &[(1, 1.1), (2, 1.0)]), [2, 1]);
        // Clearly louder: it passes.
        assert_eq!(rank(&[2, 1], &[(1, 2.0), (2, 1.0)]), [1, 2]);
        // Silent speakers drop out; newcomers join by score.
        assert_eq!(rank(&[2, 1], &[(1, 2.0), (2, 0.0), (4, 0.5)]), [1, 4]);
    }
}
