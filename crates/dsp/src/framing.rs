//! Bridges the AudioWorklet's 128-sample render quantum and the 480-sample (10 ms at 48 kHz)
//! frames the processing works on, with fixed buffers: nothing allocates after construction.

/// Samples per processing frame: 10 ms at 48 kHz, RNNoise's frame.
pub const FRAME: usize = 480;

/// A fixed-capacity FIFO of samples.
#[derive(Debug, Clone)]
struct Fifo {
    samples: [f32; 2 * FRAME],
    len: usize,
}

impl Fifo {
    fn with_silence(len: usize) -> Self {
        Fifo {
            samples: [0.0; 2 * FRAME],
            len,
        }
    }

    fn push(&mut self, input: &[f32]) {
        assert!(
            self.len + input.len() <= self.samples.len(),
            "a chunk is at most one frame"
        );
        self.samples[self.len..self.len + input.len()].copy_from_slice(input);
        self.len += input.len();
    }

    /// Moves the first `out.len()` samples into `out`.
    fn pop_into(&mut self, out: &mut [f32]) {
        let n = out.len();
        out.copy_from_slice(&self.samples[..n]);
        self.samples.copy_within(n..self.len, 0);
        self.len -= n;
    }
}

/// Turns chunks of any size up to [`FRAME`] into whole frames and back, one frame late.
///
/// Output starts with one frame of silence, so every chunk pushed can be answered with a chunk
/// of the same size at once: the added latency is exactly one frame (10 ms).
///
/// ```
/// use rtcall_dsp::Reframer;
/// let mut reframer = Reframer::new();
/// let mut output = [0.0; 128];
/// for _ in 0..8 {
///     reframer.process(&[0.5; 128], &mut output, |frame| {
///         for s in frame.iter_mut() {
///             *s *= 2.0;
///         }
///     });
/// }
/// // The first 480 samples out were the delay's silence; these are processed input.
/// assert!(output.iter().all(|&s| s == 1.0));
/// ```
#[derive(Debug, Clone)]
pub struct Reframer {
    input: Fifo,
    output: Fifo,
    frame: [f32; FRAME],
}

impl Default for Reframer {
    fn default() -> Self {
        Self::new()
    }
}

impl Reframer {
    pub fn new() -> Self {
        Reframer {
            input: Fifo::with_silence(0),
            output: Fifo::with_silence(FRAME),
            frame: [0.0; FRAME],
        }
    }

    /// Takes `input`, runs `each_frame` on every frame that completes (in place), and fills
    /// `output` (same length as `input`, at most [`FRAME`]) with processed samples.
    pub fn process(
        &mut self,
        input: &[f32],
        output: &mut [f32],
        mut each_frame: impl FnMut(&mut [f32; FRAME]),
    ) {
        assert_eq!(input.len(), output.len(), "a chunk out for each chunk in");
        self.input.push(input);
        while self.input.len >= FRAME {
            self.input.pop_into(&mut self.frame);
            each_frame(&mut self.frame);
            self.output.push(&self.frame);
        }
        self.output.pop_into(output);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_the_input_one_frame_later_for_any_chunk_size() {
        for chunk in [1, 32, 128, 441, 480] {
            let mut reframer = Reframer::new();
            let input: Vec<f32> = (0..4000).map(|i| i as f32).collect();
            let mut output = Vec::new();
            let mut frames = 0;
            for piece in input.chunks(chunk) {
                let mut out = vec![0.0; piece.len()];
                reframer.process(piece, &mut out, |_| frames += 1);
                output.extend(out);
            }
            assert_eq!(frames, 4000 / FRAME, "chunk {chunk}");
            assert!(output[..FRAME].iter().all(|&s| s == 0.0));
            assert_eq!(&output[FRAME..], &input[..4000 - FRAME], "chunk {chunk}");
        }
    }
}
