//! The gateway's audio arithmetic between the telephone network (8 kHz G.711) and the call
//! (48 kHz Opus): [`Resampler`] for the 1:6 rate change both ways, [`JitterBuffer`] to play a
//! trunk's packets out at an even pace, and [`level`] for RFC 6464 audio levels.

use std::collections::BTreeMap;

/// Samples in one 20 ms frame at 8 kHz and at 48 kHz.
pub const NARROW_FRAME: usize = 160;
/// See [`NARROW_FRAME`].
pub const WIDE_FRAME: usize = 960;
/// 48 kHz / 8 kHz.
const RATIO: usize = 6;
/// Taps of the low-pass filter: 16 per phase.
const TAPS: usize = 96;

/// Changes the rate by six, up or down, through one windowed-sinc low-pass filter that
/// passes the telephone band (to about 3.4 kHz) and stops what would alias or image (above
/// 4 kHz). It keeps the last input samples, so successive frames join without a seam.
#[derive(Debug, Clone)]
pub struct Resampler {
    filter: [f32; TAPS],
    /// The most recent input, newest last.
    history: Vec<f32>,
}

impl Resampler {
    /// A resampler with empty history.
    pub fn new() -> Resampler {
        // Cut-off 3.8 kHz at 48 kHz, Blackman window.
        let cutoff = 3_800.0 / 48_000.0;
        let middle = (TAPS - 1) as f64 / 2.0;
        let mut filter = [0.0; TAPS];
        for (n, tap) in filter.iter_mut().enumerate() {
            let t = n as f64 - middle;
            let sinc = if t == 0.0 {
                2.0 * cutoff
            } else {
                (2.0 * std::f64::consts::PI * cutoff * t).sin() / (std::f64::consts::PI * t)
            };
            let phase = 2.0 * std::f64::consts::PI * n as f64 / (TAPS - 1) as f64;
            let window = 0.42 - 0.5 * phase.cos() + 0.08 * (2.0 * phase).cos();
            *tap = (sinc * window) as f32;
        }
        // Unity gain at DC.
        let sum: f32 = filter.iter().sum();
        filter.iter_mut().for_each(|tap| *tap /= sum);
        Resampler {
            filter,
            history: vec![0.0; TAPS],
        }
    }

    /// 8 kHz → 48 kHz: six output samples per input sample, appended to `out`.
    pub fn up(&mut self, input: &[i16], out: &mut Vec<i16>) {
        let per_phase = TAPS / RATIO;
        for &sample in input {
            // The history holds TAPS samples, newest last.
            self.history.rotate_left(1);
            let newest = TAPS - 1;
            self.history[newest] = f32::from(sample);
            for phase in 0..RATIO {
                let mut sum = 0.0;
                for k in 0..per_phase {
                    sum += self.filter[k * RATIO + phase] * self.history[newest - k];
                }
                // The zeros stuffed between samples cost a factor of six in level.
                out.push(clip(sum * RATIO as f32));
            }
        }
    }

    /// 48 kHz → 8 kHz: one output sample per six input samples, appended to `out`.
    /// `input.len()` must be a multiple of six.
    pub fn down(&mut self, input: &[i16], out: &mut Vec<i16>) {
        for chunk in input.chunks_exact(RATIO) {
            self.history.rotate_left(RATIO);
            let len = self.history.len();
            for (slot, &sample) in self.history[len - RATIO..].iter_mut().zip(chunk) {
                *slot = f32::from(sample);
            }
            let sum: f32 = self
                .filter
                .iter()
                .zip(self.history.iter().rev())
                .map(|(tap, x)| tap * x)
                .sum();
            out.push(clip(sum));
        }
    }
}

impl Default for Resampler {
    fn default() -> Self {
        Self::new()
    }
}

fn clip(sample: f32) -> i16 {
    sample
        .round()
        .clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16
}

/// The RFC 6464 audio level of a frame: its RMS in -dBov, 0 (loudest) to 127 (silence).
pub fn level(samples: &[i16]) -> u8 {
    if samples.is_empty() {
        return 127;
    }
    let power: f64 =
        samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len() as f64;
    let dbov = 10.0 * (power / f64::from(i16::MAX).powi(2)).log10();
    (-dbov).clamp(0.0, 127.0) as u8
}

/// A trunk's audio, played out one 20 ms frame per tick after a fixed delay, placed by RTP
/// timestamp sample by sample: packets of any duration (10, 20, 30 ms…) and in any order make
/// the same frames; late packets are dropped, gaps play as silence, a jump in timestamps (a new
/// source, a long pause) starts over.
#[derive(Debug)]
pub struct JitterBuffer {
    /// Frames held back before playing, to absorb network jitter.
    delay: u32,
    /// Decoded packets by first sample's timestamp.
    packets: BTreeMap<u32, Vec<i16>>,
    /// The timestamp of the next sample to play, once started.
    next: Option<u32>,
    /// Ticks to wait before the first frame plays.
    waiting: u32,
}

/// Most packets held (one second of 20 ms ones): a trunk sending faster than real time cannot
/// grow memory.
const JITTER_CAPACITY: usize = 50;
/// A timestamp this far from the expected one is a new stream, not jitter (one second).
const JUMP: u32 = 8_000;

impl JitterBuffer {
    /// A buffer that holds `delay` frames before playing.
    pub fn new(delay: u32) -> JitterBuffer {
        JitterBuffer {
            delay,
            packets: BTreeMap::new(),
            next: None,
            waiting: delay,
        }
    }

    /// Adds a packet's samples (`timestamp`: its first sample's, 8 kHz units).
    pub fn push(&mut self, timestamp: u32, samples: &[i16]) {
        if let Some(next) = self.next {
            let ahead = timestamp.wrapping_sub(next);
            let end_ahead = ahead.wrapping_add(samples.len() as u32);
            if ahead >= 1 << 31 {
                // Starts before what plays next: too late if it also ends there, unless it is
                // a jump back (a new stream).
                if next.wrapping_sub(timestamp) >= JUMP {
                    self.restart();
                } else if end_ahead == 0 || end_ahead >= 1 << 31 {
                    return;
                }
            } else if ahead >= JUMP {
                self.restart();
            }
        }
        if self.packets.len() >= JITTER_CAPACITY {
            return;
        }
        self.next.get_or_insert(timestamp);
        self.packets.insert(timestamp, samples.to_vec());
    }

    fn restart(&mut self) {
        self.packets.clear();
        self.next = None;
        self.waiting = self.delay;
    }

    /// The frame (160 samples) to play this tick, if any of it arrived; what is missing within
    /// it is silence.
    pub fn pop(&mut self) -> Option<Vec<i16>> {
        let next = self.next?;
        if self.waiting > 0 {
            self.waiting -= 1;
            return None;
        }
        let frame_end = NARROW_FRAME as i64;
        let mut frame = vec![0i16; NARROW_FRAME];
        let mut heard = false;
        self.packets.retain(|&timestamp, samples| {
            // Where the packet starts relative to this frame (negative: before it).
            let start = i64::from(timestamp.wrapping_sub(next) as i32);
            let end = start + samples.len() as i64;
            if start < frame_end && end > 0 {
                heard = true;
                let from = start.max(0);
                let to = end.min(frame_end);
                frame[from as usize..to as usize]
                    .copy_from_slice(&samples[(from - start) as usize..(to - start) as usize]);
            }
            // Kept while some of it is still to play.
            end > frame_end
        });
        self.next = Some(next.wrapping_add(NARROW_FRAME as u32));
        if !heard && self.packets.is_empty() {
            // Nothing more coming yet: wait for the stream to resume.
            self.restart();
        }
        heard.then_some(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(hz: f64, rate: f64, len: usize, amplitude: f64) -> Vec<i16> {
        (0..len)
            .map(|i| (amplitude * (2.0 * std::f64::consts::PI * hz * i as f64 / rate).sin()) as i16)
            .collect()
    }

    /// The amplitude of `hz` in `samples` (Goertzel), relative to full scale.
    fn amplitude(samples: &[i16], hz: f64, rate: f64) -> f64 {
        let w = 2.0 * std::f64::consts::PI * hz / rate;
        let (mut s1, mut s2) = (0.0, 0.0);
        for &x in samples {
            let s = f64::from(x) + 2.0 * w.cos() * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        let power = s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2;
        2.0 * power.sqrt() / samples.len() as f64 / 32_768.0
    }

    fn db(ratio: f64) -> f64 {
        20.0 * ratio.log10()
    }

    #[test]
    fn upsampling_keeps_the_voice_band_and_removes_the_images() {
        let mut resampler = Resampler::new();
        let input = tone(1_000.0, 8_000.0, 8_000, 16_000.0);
        let mut out = Vec::new();
        for frame in input.chunks(NARROW_FRAME) {
            resampler.up(frame, &mut out);
        }
        assert_eq!(out.len(), 48_000);
        let steady = &out[4_800..];
        let kept = db(amplitude(steady, 1_000.0, 48_000.0) / (16_000.0 / 32_768.0));
        assert!(kept.abs() < 0.5, "1 kHz changed by {kept:.2} dB");
        // Zero-stuffing images 1 kHz at 7, 9, 15 and 17 kHz.
        for image in [7_000.0, 9_000.0, 15_000.0, 17_000.0] {
            let left = db(amplitude(steady, image, 48_000.0) / (16_000.0 / 32_768.0));
            assert!(left < -50.0, "image at {image} Hz only {left:.1} dB down");
        }
    }

    #[test]
    fn downsampling_keeps_the_voice_band_and_stops_what_would_alias() {
        for (hz, expect_kept) in [
            (300.0, true),
            (3_000.0, true),
            (6_000.0, false),
            (10_000.0, false),
        ] {
            let mut resampler = Resampler::new();
            let input = tone(hz, 48_000.0, 48_000, 16_000.0);
            let mut out = Vec::new();
            for frame in input.chunks(WIDE_FRAME) {
                resampler.down(frame, &mut out);
            }
            assert_eq!(out.len(), 8_000);
            let steady = &out[800..];
            // Where the tone lands at 8 kHz (aliases fold around 4 kHz).
            let folded = if hz <= 4_000.0 {
                hz
            } else {
                (hz % 8_000.0).min(8_000.0 - hz % 8_000.0)
            };
            let level = db(amplitude(steady, folded, 8_000.0) / (16_000.0 / 32_768.0));
            if expect_kept {
                assert!(level.abs() < 1.0, "{hz} Hz changed by {level:.2} dB");
            } else {
                assert!(level < -50.0, "{hz} Hz aliases at only {level:.1} dB");
            }
        }
    }

    #[test]
    fn levels_follow_rfc_6464() {
        assert_eq!(level(&[0; 160]), 127);
        assert_eq!(level(&[]), 127);
        // A full-scale square wave is 0 dBov; half scale about 6 dB down.
        assert_eq!(level(&[i16::MAX; 160]), 0);
        assert_eq!(level(&[16_384; 160]), 6);
        let sine = tone(1_000.0, 8_000.0, 160, 32_767.0);
        assert_eq!(level(&sine), 3, "a full-scale sine is -3 dBov");
    }

    /// Samples numbered from `from`, so where each lands can be checked.
    fn ramp(from: i16, len: usize) -> Vec<i16> {
        (0..len as i16).map(|i| from + i).collect()
    }

    #[test]
    fn the_jitter_buffer_reorders_delays_and_drops_late_packets() {
        let mut buffer = JitterBuffer::new(2);
        // Frames 0, 2, 1 arrive out of order; 3 is lost; 4 arrives.
        for n in [0i16, 2, 1, 4] {
            buffer.push(n as u32 * 160, &ramp(n * 160, 160));
        }
        let played: Vec<_> = (0..7).map(|_| buffer.pop()).collect();
        assert_eq!(
            played,
            [
                None,
                None,
                Some(ramp(0, 160)),
                Some(ramp(160, 160)),
                Some(ramp(320, 160)),
                None,
                Some(ramp(640, 160)),
            ]
        );
        // A packet for a frame already played is dropped.
        buffer.push(320, &ramp(1, 160));
        buffer.push(800, &ramp(800, 160));
        assert_eq!(buffer.pop(), Some(ramp(800, 160)));
    }

    #[test]
    fn packets_of_any_duration_play_as_the_same_20_ms_frames() {
        for ptime_samples in [80usize, 160, 240, 480] {
            let mut buffer = JitterBuffer::new(0);
            let signal = ramp(0, 2_400);
            for (i, packet) in signal.chunks(ptime_samples).enumerate() {
                buffer.push((i * ptime_samples) as u32, packet);
            }
            let played: Vec<i16> = (0..15)
                .flat_map(|_| buffer.pop().expect("a whole frame"))
                .collect();
            assert_eq!(played, signal, "{ptime_samples}-sample packets");
        }
        // Part of a frame missing plays as silence within it.
        let mut buffer = JitterBuffer::new(0);
        buffer.push(0, &ramp(1, 80));
        buffer.push(240, &ramp(1, 80));
        let mut expected = ramp(1, 80);
        expected.extend([0; 80]);
        assert_eq!(buffer.pop(), Some(expected));
    }

    #[test]
    fn the_jitter_buffer_restarts_on_a_timestamp_jump_and_is_bounded() {
        let mut buffer = JitterBuffer::new(0);
        buffer.push(1_000, &ramp(1, 160));
        assert_eq!(buffer.pop(), Some(ramp(1, 160)));
        buffer.push(1_000 + 160 + 80_000, &ramp(2, 160));
        assert_eq!(
            buffer.pop(),
            Some(ramp(2, 160)),
            "a new stream plays from its own start"
        );
        let mut flooded = JitterBuffer::new(0);
        for i in 0..1_000u32 {
            flooded.push(i * 160, &[0; 160]);
        }
        assert_eq!(flooded.packets.len(), JITTER_CAPACITY);
    }
}
