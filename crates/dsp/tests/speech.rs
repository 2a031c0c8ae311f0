//! The chain on realistic signals: speech synthesized by Debian's `espeak-ng` at test time,
//! mixed with stationary and non-stationary noise at several SNRs. Suppression must raise the
//! SNR by a margin; voice activity must follow the speech and ignore noise and silence.

use rtcall_dsp::{Processor, FRAME};
use std::process::Command;
use std::sync::OnceLock;

const RATE: usize = 48_000;

/// Speech at 48 kHz, scaled to -20 dBFS RMS over its voiced frames, with a second of silence
/// before and after. Synthesized once per test run.
fn speech() -> Vec<f32> {
    static SPEECH: OnceLock<Vec<f32>> = OnceLock::new();
    SPEECH.get_or_init(synthesize).clone()
}

fn synthesize() -> Vec<f32> {
    let dir = std::env::temp_dir().join(format!("rtcall-dsp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wav = dir.join("speech.wav");
    let status = Command::new("espeak-ng")
        .args(["-v", "en-us", "-s", "150", "-w"])
        .arg(&wav)
        .arg(
            "Noise suppression keeps the voice and takes the hum, the fan and the keyboard \
             away. Can you hear me clearly now? Let us try a longer sentence, with pauses, \
             numbers like three hundred and fifty, and a question at the end.",
        )
        .status()
        .expect("espeak-ng runs (scripts/setup.sh installs it)");
    assert!(status.success());
    let bytes = std::fs::read(&wav).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    let (rate, samples) = parse_wav(&bytes);
    let mut out = vec![0.0; RATE];
    out.extend(resample(&samples, rate, RATE));
    out.extend(vec![0.0; RATE]);
    let voiced = voiced_mask(&out);
    let gain = db_to_amplitude(-20.0) / rms_where(&out, &voiced, true);
    out.iter_mut().for_each(|s| *s *= gain);
    out
}

/// 16-bit mono PCM WAV: (sample rate, samples in -1..1).
fn parse_wav(bytes: &[u8]) -> (usize, Vec<f32>) {
    assert_eq!(&bytes[..4], b"RIFF");
    let mut at = 12;
    let mut rate = 0;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        let body = &bytes[at + 8..(at + 8 + len).min(bytes.len())];
        if id == b"fmt " {
            assert_eq!(u16::from_le_bytes([body[0], body[1]]), 1, "PCM");
            assert_eq!(u16::from_le_bytes([body[2], body[3]]), 1, "mono");
            rate = u32::from_le_bytes(body[4..8].try_into().unwrap()) as usize;
            assert_eq!(u16::from_le_bytes([body[14], body[15]]), 16, "16-bit");
        } else if id == b"data" {
            let samples = body
                .chunks_exact(2)
                .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32_768.0)
                .collect();
            return (rate, samples);
        }
        at += 8 + len + (len & 1);
    }
    panic!("no data chunk");
}

/// Linear interpolation is enough for a test signal (espeak's 22 kHz has little above 8 kHz).
fn resample(input: &[f32], from: usize, to: usize) -> Vec<f32> {
    let n = input.len() * to / from;
    (0..n)
        .map(|i| {
            let x = i as f64 * from as f64 / to as f64;
            let j = x as usize;
            let t = (x - j as f64) as f32;
            let a = input[j];
            let b = *input.get(j + 1).unwrap_or(&a);
            a + (b - a) * t
        })
        .collect()
}

struct Rng(u64);

impl Rng {
    /// Uniform in -1..1.
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// Stationary: pink-ish noise (Paul Kellet's economy filter), like a fan or air conditioning.
fn pink_noise(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng(seed);
    let (mut b0, mut b1, mut b2) = (0.0f32, 0.0f32, 0.0f32);
    (0..n)
        .map(|_| {
            let white = rng.next();
            b0 = 0.99765 * b0 + white * 0.0990460;
            b1 = 0.96300 * b1 + white * 0.2965164;
            b2 = 0.57000 * b2 + white * 1.0526913;
            b0 + b1 + b2 + white * 0.1848
        })
        .collect()
}

/// Non-stationary: keyboard-like clicks, short decaying noise bursts at irregular intervals.
fn clicks(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng(seed);
    let mut out = vec![0.0; n];
    let mut at = 0usize;
    while at < n {
        let length = 1_500 + ((rng.next() + 1.0) * 1_000.0) as usize;
        for i in 0..length.min(n - at) {
            out[at + i] = rng.next() * (-(i as f32) / 300.0).exp();
        }
        at += 5_000 + ((rng.next() + 1.0) * 6_000.0) as usize;
    }
    out
}

fn db_to_amplitude(db: f32) -> f32 {
    10f32.powf(db / 20.0)
}

/// Per frame: whether the clean speech is voiced there (louder than -50 dBFS RMS).
fn voiced_mask(clean: &[f32]) -> Vec<bool> {
    clean
        .chunks(FRAME)
        .map(|f| {
            (f.iter().map(|s| s * s).sum::<f32>() / f.len() as f32).sqrt() > db_to_amplitude(-50.0)
        })
        .collect()
}

fn rms_where(signal: &[f32], mask: &[bool], voiced: bool) -> f32 {
    let (sum, n) = signal
        .chunks(FRAME)
        .zip(mask)
        .filter(|(_, &m)| m == voiced)
        .fold((0.0f64, 0usize), |(sum, n), (f, _)| {
            (
                sum + f.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>(),
                n + f.len(),
            )
        });
    (sum / n.max(1) as f64).sqrt() as f32
}

/// The SNR of a signal whose speech is where `mask` says: the power of the frames with speech
/// minus that of the frames without (the noise's), over the latter, in dB.
fn snr_db(signal: &[f32], mask: &[bool]) -> f32 {
    let with = rms_where(signal, mask, true).powi(2);
    let without = rms_where(signal, mask, false).powi(2);
    10.0 * ((with - without).max(1e-12) / without).log10()
}

/// Runs a signal through a processor in render quanta; returns the output re-aligned with the
/// input (the chain lags it by two frames: the reframer's and the model's).
fn process(processor: &mut Processor, input: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0; input.len()];
    for (inp, o) in input.chunks(128).zip(out.chunks_mut(128)) {
        processor.process(inp, o);
    }
    out.drain(..2 * FRAME);
    out.extend(vec![0.0; 2 * FRAME]);
    out
}

fn mix(speech: &[f32], noise: &[f32], snr_db: f32) -> Vec<f32> {
    let mask = voiced_mask(speech);
    let speech_rms = rms_where(speech, &mask, true);
    let noise_rms = (noise.iter().map(|s| s * s).sum::<f32>() / noise.len() as f32).sqrt();
    let gain = speech_rms / noise_rms / db_to_amplitude(snr_db);
    speech
        .iter()
        .zip(noise)
        .map(|(s, n)| s + n * gain)
        .collect()
}

#[test]
fn suppression_raises_the_snr_of_speech_in_noise() {
    let clean = speech();
    let mask = voiced_mask(&clean);
    let mut report = Vec::new();
    for (name, noise, min_gain_db) in [
        ("pink", pink_noise(clean.len(), 7), 10.0),
        ("clicks", clicks(clean.len(), 11), 4.0),
    ] {
        for input_snr in [0.0, 5.0, 10.0] {
            let noisy = mix(&clean, &noise, input_snr);
            let mut processor = Processor::new();
            processor.set_noise_suppression(true);
            let out = process(&mut processor, &noisy);
            let (before, after) = (snr_db(&noisy, &mask), snr_db(&out, &mask));
            report.push(format!(
                "{name} {input_snr} dB: {before:.1} -> {after:.1} dB"
            ));
            assert!(
                after - before >= min_gain_db,
                "{name} at {input_snr} dB: {before:.1} -> {after:.1} dB\n{}",
                report.join("\n")
            );
        }
    }
    // Shown with --nocapture; BENCHMARKS.md records these.
    println!("{}", report.join("\n"));
}

#[test]
fn with_suppression_off_the_output_is_the_input_two_frames_late() {
    let clean = speech();
    let noisy = mix(&clean, &pink_noise(clean.len(), 3), 10.0);
    let mut processor = Processor::new();
    let out = process(&mut processor, &noisy);
    assert_eq!(
        &out[..noisy.len() - 2 * FRAME],
        &noisy[..noisy.len() - 2 * FRAME]
    );
}

#[test]
fn voice_activity_follows_speech_not_noise_or_silence() {
    let clean = speech();
    let mask = voiced_mask(&clean);
    for (name, signal) in [
        ("speech", clean.clone()),
        (
            "speech in pink noise",
            mix(&clean, &pink_noise(clean.len(), 5), 10.0),
        ),
    ] {
        let speaking = speaking_per_frame(&signal);
        // Speaking through most of the speech (hangover bridges the pauses), never in the
        // silent second before it.
        let during = agreement(&speaking, &mask, true);
        assert!(
            during > 0.8,
            "{name}: speaking in {during:.2} of voiced frames"
        );
        assert!(
            speaking[..RATE / FRAME].iter().all(|&s| !s),
            "{name}: speaking before speech"
        );
    }
    for (name, signal) in [
        ("silence", vec![0.0; 5 * RATE]),
        ("pink noise", scale(pink_noise(5 * RATE, 9), -30.0)),
        ("clicks", scale(clicks(5 * RATE, 13), -20.0)),
    ] {
        let speaking = speaking_per_frame(&signal);
        let share = speaking.iter().filter(|&&s| s).count() as f32 / speaking.len() as f32;
        assert!(share < 0.02, "{name}: speaking in {share:.2} of frames");
    }
}

fn scale(mut signal: Vec<f32>, rms_dbfs: f32) -> Vec<f32> {
    let rms = (signal.iter().map(|s| s * s).sum::<f32>() / signal.len() as f32).sqrt();
    let gain = db_to_amplitude(rms_dbfs) / rms;
    signal.iter_mut().for_each(|s| *s *= gain);
    signal
}

/// Whether the processor says "speaking" at each frame of the signal (aligned with it).
fn speaking_per_frame(signal: &[f32]) -> Vec<bool> {
    let mut processor = Processor::new();
    let mut out = [0.0; FRAME];
    let mut states = Vec::new();
    for frame in signal.chunks(FRAME) {
        processor.process(frame, &mut out[..frame.len()]);
        states.push(processor.speaking());
    }
    states
}

/// The share of frames where `mask` is `value` that `states` marks speaking.
fn agreement(states: &[bool], mask: &[bool], value: bool) -> f32 {
    let (hits, n) = states
        .iter()
        .zip(mask)
        .filter(|(_, &m)| m == value)
        .fold((0, 0), |(h, n), (&s, _)| (h + usize::from(s), n + 1));
    hits as f32 / n.max(1) as f32
}
