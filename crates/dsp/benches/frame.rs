//! Cost of each stage per 10 ms frame (480 samples at 48 kHz): the real-time budget is 10 ms.
//! `cargo bench -p rtcall-dsp`; BENCHMARKS.md records the figures.

use criterion::{criterion_group, criterion_main, Criterion};
use rtcall_dsp::{LevelMeter, NoiseSuppressor, Processor, Reframer, VoiceActivity, FRAME};
use std::hint::black_box;

/// A voiced-sounding test frame: a 150 Hz buzz with harmonics and a little noise.
fn frame(n: usize) -> [f32; FRAME] {
    let mut seed = 0x9e37_79b9_u32.wrapping_add(n as u32);
    std::array::from_fn(|i| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let t = (n * FRAME + i) as f32 / 48_000.0;
        let buzz: f32 = (1..6)
            .map(|h| (t * 150.0 * h as f32 * std::f32::consts::TAU).sin() / h as f32)
            .sum();
        0.2 * buzz + 0.01 * (seed as f32 / u32::MAX as f32 - 0.5)
    })
}

fn stages(c: &mut Criterion) {
    let frames: Vec<[f32; FRAME]> = (0..100).map(frame).collect();
    let mut n = 0;
    let mut next = move || {
        n = (n + 1) % frames.len();
        frames[n]
    };

    let mut suppressor = NoiseSuppressor::new();
    c.bench_function("noise suppression (nnnoiseless) per frame", |b| {
        b.iter(|| {
            let mut f = next();
            black_box(suppressor.process(&mut f));
        })
    });
    let mut meter = LevelMeter::new();
    let f = frame(0);
    c.bench_function("level meter per frame", |b| {
        b.iter(|| black_box(meter.update(black_box(&f))))
    });
    let mut vad = VoiceActivity::new();
    c.bench_function("voice activity per frame", |b| {
        b.iter(|| black_box(vad.update(black_box(0.7), black_box(-20.0))))
    });
    let mut reframer = Reframer::new();
    let quantum = [0.1f32; 128];
    let mut out = [0.0f32; 128];
    c.bench_function("reframing per 128-sample quantum", |b| {
        b.iter(|| {
            reframer.process(black_box(&quantum), &mut out, |f| {
                black_box(f);
            })
        })
    });
    let signal: Vec<f32> = (0..15).flat_map(frame).collect();
    let mut processor = Processor::new();
    processor.set_noise_suppression(true);
    let mut out = [0.0f32; 128];
    // 15 frames = 56.25 quanta; 3,840 samples = 30 quanta = 8 frames exactly.
    c.bench_function("whole chain per frame (8 frames as 30 quanta, /8)", |b| {
        b.iter(|| {
            for quantum in signal[..3_840].chunks(128) {
                processor.process(quantum, &mut out);
            }
        })
    });
}

criterion_group!(benches, stages);
criterion_main!(benches);
