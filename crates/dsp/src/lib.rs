//! Pure-Rust audio DSP for rtcall's microphone path, built to run inside an AudioWorklet:
//! noise suppression, voice activity and levels, on 10 ms frames at 48 kHz. No web
//! dependencies, and nothing allocates after construction, so the audio thread never waits
//! on an allocator.
//!
//! [`Processor`] is the one entry point: give it each 128-sample render quantum, get the
//! processed quantum back (10 ms later), and read the level and speaking state.
//!
//! ```
//! use rtcall_dsp::Processor;
//!
//! let mut processor = Processor::new();
//! processor.set_noise_suppression(true);
//! let tone: Vec<f32> = (0..48_000)
//!     .map(|i| 0.3 * (i as f32 * 2.0 * std::f32::consts::PI * 220.0 / 48_000.0).sin())
//!     .collect();
//! let mut out = [0.0; 128];
//! for quantum in tone.chunks(128) {
//!     processor.process(quantum, &mut out[..quantum.len()]);
//! }
//! assert!(processor.level() > 70.0); // -13.5 dBFS RMS on a 60 dB meter
//! ```
//!
//! The pieces are usable alone: [`Reframer`] (render quanta to frames and back),
//! [`NoiseSuppressor`], [`VoiceActivity`], [`LevelMeter`].
#![forbid(unsafe_code)]

mod denoise;
mod framing;
mod level;
mod vad;

pub use denoise::NoiseSuppressor;
pub use framing::{Reframer, FRAME};
pub use level::{dbfs, meter_level, LevelMeter, Loudness, FLOOR_DBFS};
pub use vad::VoiceActivity;

/// The microphone chain: frames the quanta, measures the level, detects voice and, when on,
/// suppresses noise.
pub struct Processor {
    reframer: Reframer,
    frames: FrameChain,
}

/// What runs on each whole frame (apart from the reframer, so both can be borrowed at once).
struct FrameChain {
    suppressor: NoiseSuppressor,
    meter: LevelMeter,
    vad: VoiceActivity,
    noise_suppression: bool,
    voice_probability: f32,
    /// The unprocessed input, one frame back: the suppressor's output lags its input by a
    /// frame, so with suppression off the same lag keeps switching seamless.
    delayed: [f32; FRAME],
    original: [f32; FRAME],
}

impl Default for Processor {
    fn default() -> Self {
        Self::new()
    }
}

impl Processor {
    /// A chain with noise suppression off; everything it needs is allocated here.
    pub fn new() -> Self {
        Processor {
            reframer: Reframer::new(),
            frames: FrameChain {
                suppressor: NoiseSuppressor::new(),
                meter: LevelMeter::new(),
                vad: VoiceActivity::new(),
                noise_suppression: false,
                voice_probability: 0.0,
                delayed: [0.0; FRAME],
                original: [0.0; FRAME],
            },
        }
    }

    /// Turns noise suppression on or off from the next frame on.
    pub fn set_noise_suppression(&mut self, on: bool) {
        self.frames.noise_suppression = on;
    }

    pub fn noise_suppression(&self) -> bool {
        self.frames.noise_suppression
    }

    /// Processes one chunk (a render quantum: 128 samples, at most [`FRAME`]) of samples in
    /// -1.0..=1.0 into `output` of the same length.
    pub fn process(&mut self, input: &[f32], output: &mut [f32]) {
        let frames = &mut self.frames;
        self.reframer
            .process(input, output, |frame| frames.process(frame));
    }

    /// The microphone level, 0–100 (see [`LevelMeter`]).
    pub fn level(&self) -> f32 {
        self.frames.meter.level()
    }

    /// The last frame's loudness.
    pub fn loudness(&self) -> Option<Loudness> {
        self.frames.meter.loudness()
    }

    /// Whether someone is speaking (see [`VoiceActivity`]).
    pub fn speaking(&self) -> bool {
        self.frames.vad.speaking()
    }

    /// The last frame's voice probability, 0..1.
    pub fn voice_probability(&self) -> f32 {
        self.frames.voice_probability
    }
}

impl FrameChain {
    fn process(&mut self, frame: &mut [f32; FRAME]) {
        self.meter.update(frame);
        self.original.copy_from_slice(frame);
        self.voice_probability = self.suppressor.process(frame);
        let rms = self.meter.loudness().map_or(FLOOR_DBFS, |l| l.rms_dbfs);
        self.vad.update(self.voice_probability, rms);
        if !self.noise_suppression {
            frame.copy_from_slice(&self.delayed);
        }
        self.delayed.copy_from_slice(&self.original);
    }
}
