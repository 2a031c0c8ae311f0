//! What one roster change costs in a large group call: the signaling bytes the hub puts on the
//! wire for it (every recipient's copy, serialized as the node serializes it) and the hub's time
//! to decide them, in calls of 100 and 350 participants. Bytes are exact (the hub is
//! deterministic); they are printed before criterion times the same changes.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rtcall_protocol::call::CallId;
use rtcall_protocol::signal::{Request, VideoSource};
use rtcall_server::signaling::hub::{Hub, HubConfig, HubOutput};
use std::hint::black_box;
use std::time::Instant;

const SIZES: [u64; 2] = [100, 350];

/// A hub with one group call of `n` endpoints, everyone's media up.
fn group_call(n: u64) -> Hub {
    // Room for the late joiner of a 350-person call.
    let config = HubConfig {
        max_participants: 1000,
        ..HubConfig::default()
    };
    let mut hub = Hub::new(config, Box::new(|_| true));
    let now = Instant::now();
    for e in 0..n {
        hub.handle_connect(now, e, format!("8:acs:r_u{e}"), format!("User {e}"));
        hub.handle_request(now, e, 1, join());
        hub.handle_media(
            now,
            rtcall_server::contract::MediaEvent::Connected {
                leg: rtcall_server::contract::LegKey {
                    call: CallId("big".into()),
                    participant: rtcall_protocol::call::ParticipantId(e as u32),
                },
            },
        );
        drain(&mut hub);
    }
    hub
}

fn join() -> Request {
    Request::JoinGroup {
        group_id: "big".into(),
        muted: false,
        lobby: false,
    }
}

fn mute(muted: bool) -> Request {
    Request::SetMuted {
        call_id: CallId("big".into()),
        muted,
    }
}

fn camera(on: bool) -> Request {
    Request::SetVideo {
        call_id: CallId("big".into()),
        source: VideoSource::Camera,
        on,
    }
}

/// (frames, bytes) the hub's outputs put on the wire: each frame serialized once, sent to each
/// of its recipients.
fn drain(hub: &mut Hub) -> (usize, usize) {
    let (mut frames, mut bytes) = (0, 0);
    while let Some(output) = hub.poll_output() {
        if let HubOutput::Send { to, frame } = output {
            let len = serde_json::to_string(&frame).unwrap().len();
            frames += to.len();
            bytes += to.len() * len;
        }
    }
    (frames, bytes)
}

fn print_bytes() {
    println!("signaling per roster change (frames and bytes to all recipients; per recipient):");
    for n in SIZES {
        let mut hub = group_call(n);
        let now = Instant::now();
        let report = |what: &str, cost: (usize, usize)| {
            println!(
                "  {n} participants, {what}: {} frames, {} bytes ({:.1} bytes per participant)",
                cost.0,
                cost.1,
                cost.1 as f64 / n as f64
            );
        };
        hub.handle_request(now, 50, 2, mute(true));
        report("mute", drain(&mut hub));
        hub.handle_request(now, 50, 3, camera(true));
        report("camera on", drain(&mut hub));
        hub.handle_connect(now, n, "8:acs:r_late".into(), "Late".into());
        hub.handle_request(now, n, 1, join());
        report("join (incl. the joiner's roster)", drain(&mut hub));
        hub.handle_request(
            now,
            n,
            2,
            Request::HangUp {
                call_id: CallId("big".into()),
                for_everyone: false,
            },
        );
        report("leave", drain(&mut hub));
    }
}

fn per_change(c: &mut Criterion) {
    print_bytes();
    let mut group = c.benchmark_group("hub, one mute and unmute");
    for n in SIZES {
        let mut hub = group_call(n);
        let now = Instant::now();
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                hub.handle_request(now, 50, 9, mute(true));
                hub.handle_request(now, 50, 10, mute(false));
                black_box(drain(&mut hub))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, per_change);
criterion_main!(benches);
