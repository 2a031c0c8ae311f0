//! Voice activity with hangover: "speaking" for a UI that must not flicker. It judges each
//! 10 ms frame by the noise model's voice probability and by loudness, both absolute and
//! above the noise floor (the model alone takes steady low-pitched noise for voice), starts
//! after a short run of voiced frames and ends only after a longer run of unvoiced ones.

/// A frame counts as voiced from this voice probability up.
const VOICED_PROBABILITY: f32 = 0.6;
/// ... and only if it is louder than this (a whisper at the microphone is about -50 dBFS).
const VOICED_MIN_DBFS: f32 = -55.0;
/// ... and this much above the noise floor: speech stands out of steady noise (so the SNR
/// must be above about this too).
const VOICED_ABOVE_FLOOR_DB: f32 = 6.0;
/// How fast the noise floor estimate rises towards louder frames (3 dB/s); it falls at once.
const FLOOR_RISE_PER_FRAME_DB: f32 = 0.03;
/// Voiced frames in a row that start speaking (30 ms): clicks and pops do not.
const ONSET_FRAMES: u32 = 3;
/// Unvoiced frames in a row that end it (400 ms): pauses between words do not.
const HANGOVER_FRAMES: u32 = 40;

/// Speaking or not, from frame to frame.
#[derive(Debug, Clone, Default)]
pub struct VoiceActivity {
    speaking: bool,
    run: u32,
    /// The noise floor estimate in dBFS: the quietest recent frame level.
    floor: Option<f32>,
}

impl VoiceActivity {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes a frame's voice probability (0..1) and RMS level; returns the new state when it
    /// changes.
    pub fn update(&mut self, voice_probability: f32, rms_dbfs: f32) -> Option<bool> {
        let floor = match self.floor {
            Some(floor) if rms_dbfs > floor => (floor + FLOOR_RISE_PER_FRAME_DB).min(rms_dbfs),
            _ => rms_dbfs,
        };
        self.floor = Some(floor);
        let voiced = voice_probability >= VOICED_PROBABILITY
            && rms_dbfs >= VOICED_MIN_DBFS
            && rms_dbfs >= floor + VOICED_ABOVE_FLOOR_DB;
        // `run` counts frames that disagree with the current state.
        if voiced == self.speaking {
            self.run = 0;
            return None;
        }
        self.run += 1;
        let needed = if self.speaking {
            HANGOVER_FRAMES
        } else {
            ONSET_FRAMES
        };
        if self.run < needed {
            return None;
        }
        self.speaking = voiced;
        self.run = 0;
        Some(voiced)
    }

    pub fn speaking(&self) -> bool {
        self.speaking
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_after_a_short_run_and_outlasts_pauses() {
        let mut vad = VoiceActivity::new();
        // A quiet room first: the floor is -70 dBFS.
        assert_eq!(vad.update(0.1, -70.0), None);
        // A click: two voiced frames are not speech.
        assert_eq!(vad.update(0.9, -20.0), None);
        assert_eq!(vad.update(0.9, -20.0), None);
        assert_eq!(vad.update(0.1, -20.0), None);
        assert!(!vad.speaking());
        // Speech.
        assert_eq!(vad.update(0.9, -20.0), None);
        assert_eq!(vad.update(0.9, -20.0), None);
        assert_eq!(vad.update(0.9, -20.0), Some(true));
        // A 200 ms pause between words keeps it on.
        for _ in 0..20 {
            assert_eq!(vad.update(0.05, -70.0), None);
        }
        assert_eq!(vad.update(0.9, -25.0), None);
        // 400 ms of quiet ends it.
        for _ in 0..HANGOVER_FRAMES - 1 {
            assert_eq!(vad.update(0.05, -70.0), None);
        }
        assert_eq!(vad.update(0.05, -70.0), Some(false));
    }

    #[test]
    fn steady_noise_is_not_speech_however_sure_the_model_is() {
        let mut vad = VoiceActivity::new();
        for _ in 0..500 {
            assert_eq!(vad.update(0.9, -30.0), None);
        }
        // Speech over it, 10 dB louder, is.
        let changes: Vec<_> = (0..5).filter_map(|_| vad.update(0.9, -20.0)).collect();
        assert_eq!(changes, [true]);
    }

    #[test]
    fn a_confident_model_on_a_quiet_frame_is_not_speech() {
        let mut vad = VoiceActivity::new();
        for _ in 0..10 {
            assert_eq!(vad.update(0.95, -65.0), None);
        }
        assert!(!vad.speaking());
    }
}
