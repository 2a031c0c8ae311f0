//! Microphone level per frame: RMS and peak in dBFS, and a 0–100 level for meters that rises
//! at once and falls gently, as ACS's `Volume.level` does.

/// The quietest level reported: digital silence reads as this, not minus infinity.
pub const FLOOR_DBFS: f32 = -100.0;
/// The meter's range: below it the level reads 0, at 0 dBFS it reads 100.
const METER_RANGE_DB: f32 = 60.0;
/// How far the displayed level may fall per 10 ms frame (a full-scale drop takes ~0.6 s).
const FALL_PER_FRAME: f32 = 1.7;

/// One frame's measured loudness.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Loudness {
    pub rms_dbfs: f32,
    pub peak_dbfs: f32,
}

impl Loudness {
    /// Measures samples in -1.0..=1.0.
    pub fn of(samples: &[f32]) -> Self {
        let mut sum = 0.0f64;
        let mut peak = 0.0f32;
        for &s in samples {
            sum += f64::from(s) * f64::from(s);
            peak = peak.max(s.abs());
        }
        let rms = (sum / samples.len().max(1) as f64).sqrt() as f32;
        Loudness {
            rms_dbfs: dbfs(rms),
            peak_dbfs: dbfs(peak),
        }
    }
}

/// Where a loudness sits on the 0–100 meter: 0 at -60 dBFS and below, 100 at full scale.
pub fn meter_level(dbfs: f32) -> f32 {
    ((dbfs + METER_RANGE_DB) / METER_RANGE_DB * 100.0).clamp(0.0, 100.0)
}

/// An amplitude (1.0 = full scale) in dBFS, floored at [`FLOOR_DBFS`].
pub fn dbfs(amplitude: f32) -> f32 {
    if amplitude <= 0.0 {
        FLOOR_DBFS
    } else {
        (20.0 * amplitude.log10()).max(FLOOR_DBFS)
    }
}

/// The 0–100 meter level of a stream of frames.
#[derive(Debug, Clone, Default)]
pub struct LevelMeter {
    level: f32,
    last: Option<Loudness>,
}

impl LevelMeter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Measures a frame; returns the meter level after it.
    pub fn update(&mut self, frame: &[f32]) -> f32 {
        let loudness = Loudness::of(frame);
        let target = meter_level(loudness.rms_dbfs);
        self.level = if target >= self.level {
            target
        } else {
            (self.level - FALL_PER_FRAME).max(target)
        };
        self.last = Some(loudness);
        self.level
    }

    /// 0 (silence or below -60 dBFS RMS) to 100 (full scale).
    pub fn level(&self) -> f32 {
        self.level
    }

    /// The last frame's loudness.
    pub fn loudness(&self) -> Option<Loudness> {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(amplitude: f32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| amplitude * (i as f32 * 2.0 * std::f32::consts::PI * 440.0 / 48_000.0).sin())
            .collect()
    }

    #[test]
    fn a_full_scale_sine_is_minus_3_dbfs_rms_and_0_peak() {
        let l = Loudness::of(&sine(1.0, 4800));
        assert!((l.rms_dbfs + 3.01).abs() < 0.05, "{l:?}");
        assert!(l.peak_dbfs.abs() < 0.01, "{l:?}");
        let quiet = Loudness::of(&sine(0.01, 4800));
        assert!((quiet.rms_dbfs + 43.01).abs() < 0.05, "{quiet:?}");
        assert_eq!(Loudness::of(&[0.0; 480]).rms_dbfs, FLOOR_DBFS);
    }

    #[test]
    fn the_meter_rises_at_once_and_falls_gently() {
        let mut meter = LevelMeter::new();
        let tone = sine(0.5, 480);
        let level = meter.update(&tone);
        // -9 dBFS RMS over a 60 dB range.
        assert!((level - 85.0).abs() < 0.5, "{level}");
        let after_one = meter.update(&[0.0; 480]);
        assert!((after_one - (level - FALL_PER_FRAME)).abs() < 1e-3);
        let mut frames = 1;
        while meter.update(&[0.0; 480]) > 0.0 {
            frames += 1;
        }
        // About half a second to fall from -9 dBFS to nothing.
        assert!((45..=55).contains(&frames), "{frames}");
    }
}
