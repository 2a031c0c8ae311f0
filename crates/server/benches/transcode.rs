//! What one phone call costs the gateway every 20 ms, apart from the network: the phone's
//! frame to Opus for the call, and the call's forwarded Opus decoded, mixed and coded to G.711
//! for the phone (`rtcall_server::phone::media::Transcoder`, as the gateway runs it). With one
//! forwarded speaker (a 1:1 call) and three (a group call's loudest).

use criterion::{criterion_group, criterion_main, Criterion};
use rtcall_server::phone::media::Transcoder;
use rtcall_sip::g711::Law;
use std::hint::black_box;

fn tone(hz: f32, rate: f32, len: usize) -> Vec<i16> {
    (0..len)
        .map(|i| (8_000.0 * (2.0 * std::f32::consts::PI * hz * i as f32 / rate).sin()) as i16)
        .collect()
}

fn per_frame(c: &mut Criterion) {
    let mut encoder =
        opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap();
    let speech_like = tone(440.0, 48_000.0, 960);
    let forwarded = encoder.encode_vec(&speech_like, 400).unwrap();
    let mut g711 = Vec::new();
    Law::Ulaw.encode(&tone(440.0, 8_000.0, 160), &mut g711);
    let mut pcm = Vec::with_capacity(160);
    for speakers in [1, 3] {
        let mut transcoder = Transcoder::new(Law::Ulaw).unwrap();
        let mut decoders: Vec<opus::Decoder> = (0..speakers)
            .map(|_| opus::Decoder::new(48_000, opus::Channels::Mono).unwrap())
            .collect();
        let mut decoded = vec![vec![0i16; 960]; speakers];
        c.bench_function(
            &format!("phone leg per 20 ms frame, {speakers} speaker(s) forwarded"),
            |b| {
                b.iter(|| {
                    for (decoder, pcm) in decoders.iter_mut().zip(&mut decoded) {
                        decoder.decode(black_box(&forwarded), pcm, false).unwrap();
                    }
                    black_box(transcoder.to_phone(decoded.iter().map(Vec::as_slice)));
                    pcm.clear();
                    Law::Ulaw.decode(black_box(&g711), &mut pcm);
                    black_box(transcoder.to_call(Some(&pcm)).unwrap().1)
                })
            },
        );
    }
}

/// The largest part, for comparison: libopus encoding one 20 ms frame at 48 kHz.
fn opus_alone(c: &mut Criterion) {
    let mut encoder =
        opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap();
    encoder.set_bitrate(opus::Bitrate::Bits(24_000)).unwrap();
    let frame = tone(440.0, 48_000.0, 960);
    let mut out = vec![0u8; 400];
    c.bench_function("Opus encode, one 20 ms frame at 48 kHz", |b| {
        b.iter(|| encoder.encode(black_box(&frame), &mut out).unwrap())
    });
}

criterion_group!(benches, per_frame, opus_alone);
criterion_main!(benches);
