//! RNNoise-style noise suppression (the `nnnoiseless` port of RNNoise) on 10 ms frames,
//! warmed up at construction so that processing never allocates.

use crate::framing::FRAME;
use nnnoiseless::DenoiseState;

/// `nnnoiseless` works on samples scaled to the 16-bit range.
const I16_SCALE: f32 = 32_768.0;

/// Suppresses noise in frames of [`FRAME`] samples in -1.0..=1.0 and reports how likely each
/// holds a voice.
pub struct NoiseSuppressor {
    state: Box<DenoiseState<'static>>,
    scaled_in: [f32; FRAME],
    scaled_out: [f32; FRAME],
}

impl Default for NoiseSuppressor {
    fn default() -> Self {
        Self::new()
    }
}

impl NoiseSuppressor {
    pub fn new() -> Self {
        let mut suppressor = NoiseSuppressor {
            state: DenoiseState::new(),
            scaled_in: [0.0; FRAME],
            scaled_out: [0.0; FRAME],
        };
        // The model builds its tables and FFT plans on the first frame that is not silent:
        // do that now, not on the audio thread's first callback. The warm-up frame is a quiet
        // chirp; its trace in the state fades within a few frames.
        let mut warm = [0.0; FRAME];
        for (i, s) in warm.iter_mut().enumerate() {
            *s = 0.01 * (i as f32 * i as f32 * 0.0005).sin();
        }
        suppressor.process(&mut warm);
        suppressor
    }

    /// Suppresses noise in `frame`, in place; returns the voice probability (0..1).
    pub fn process(&mut self, frame: &mut [f32; FRAME]) -> f32 {
        for (scaled, s) in self.scaled_in.iter_mut().zip(frame.iter()) {
            *scaled = s * I16_SCALE;
        }
        let probability = self
            .state
            .process_frame(&mut self.scaled_out, &self.scaled_in);
        for (s, scaled) in frame.iter_mut().zip(self.scaled_out.iter()) {
            *s = (scaled / I16_SCALE).clamp(-1.0, 1.0);
        }
        probability
    }
}
