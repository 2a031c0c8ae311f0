//! `rtcall-loadgen`: measures rtcall-server with native clients over loopback.
//!
//! ```text
//! rtcall-loadgen setup --server-bin target/server/rtcall-server --calls 50
//! rtcall-loadgen sfu   --server-bin target/server/rtcall-server --participants 30 --seconds 10
//! ```
//!
//! It starts the server itself (fresh data directory, loopback ports), so it can read the server
//! process's CPU time from `/proc`. `setup` times `startCall` until both sides are `Connected`
//! (the callee answers as soon as it rings). `sfu` runs one group call where everyone sends
//! Opus-sized audio at 50 packets/s (and optionally video), and reports forwarded packets per
//! second and the server's CPU time per forwarded packet.

use rtcall_loadgen::client::{Client, Sending};
use rtcall_loadgen::server::ServerProcess;
use rtcall_protocol::call::{CallId, CallState};
use rtcall_protocol::signal::Request;
use std::time::{Duration, Instant};

fn usage() -> ! {
    eprintln!(
        "usage: rtcall-loadgen setup --server-bin PATH [--calls N]\n       \
         rtcall-loadgen sfu --server-bin PATH [--participants N] [--video N] [--seconds S] [--forward-all-audio-max N]"
    );
    std::process::exit(2)
}

struct Args {
    scenario: String,
    server_bin: String,
    calls: usize,
    participants: u8,
    video: u8,
    seconds: u64,
    forward_all_audio_max: usize,
}

fn parse_args() -> Args {
    let mut args = std::env::args().skip(1);
    let scenario = args.next().unwrap_or_else(|| usage());
    let mut parsed = Args {
        scenario,
        server_bin: String::new(),
        calls: 50,
        participants: 30,
        video: 0,
        seconds: 10,
        forward_all_audio_max: 20,
    };
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        let number = || value.parse().unwrap_or_else(|_| usage());
        match flag.as_str() {
            "--server-bin" => parsed.server_bin = value.clone(),
            "--calls" => parsed.calls = number(),
            "--participants" => parsed.participants = number() as u8,
            "--video" => parsed.video = number() as u8,
            "--seconds" => parsed.seconds = number() as u64,
            "--forward-all-audio-max" => parsed.forward_all_audio_max = number(),
            _ => usage(),
        }
    }
    if parsed.server_bin.is_empty() {
        usage();
    }
    parsed
}

/// A fresh data directory for one run, removed afterwards.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new() -> Self {
        TempDir(std::env::temp_dir().join(format!("rtcall-loadgen-{}", uuid::Uuid::new_v4())))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn summarize(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    println!(
        "{label}: n={} median={:.1} ms p95={:.1} ms min={:.1} ms max={:.1} ms",
        samples.len(),
        pick(0.5).as_secs_f64() * 1e3,
        pick(0.95).as_secs_f64() * 1e3,
        samples[0].as_secs_f64() * 1e3,
        samples[samples.len() - 1].as_secs_f64() * 1e3
    );
}

async fn setup(args: &Args) {
    let data = TempDir::new();
    let server = ServerProcess::start(&args.server_bin, &data.0, &[]);
    let mut caller = Client::connect(&server.url, "Caller", 1).await;
    let mut callee = Client::connect(&server.url, "Callee", 2).await;
    let mut samples = Vec::new();
    for _ in 0..args.calls {
        let start = Instant::now();
        let call = caller.call_and_answer(&mut callee).await;
        samples.push(start.elapsed());
        caller
            .ok(Request::HangUp {
                call_id: call.clone(),
                for_everyone: false,
            })
            .await;
        caller.wait_call_state(&call, CallState::Disconnected).await;
        callee.wait_call_state(&call, CallState::Disconnected).await;
        caller.stop_media(&call);
        callee.stop_media(&call);
        caller.backlog.clear();
        callee.backlog.clear();
    }
    summarize("startCall -> both Connected", samples);
}

async fn sfu(args: &Args) {
    let data = TempDir::new();
    let max = args.forward_all_audio_max.to_string();
    let server = ServerProcess::start(
        &args.server_bin,
        &data.0,
        &["--forward-all-audio-max", &max],
    );
    let call = CallId(uuid::Uuid::new_v4().to_string());
    let mut clients = Vec::new();
    for tag in 1..=args.participants {
        let mut client = Client::connect(&server.url, &format!("P{tag}"), tag).await;
        client.join_group(&call).await;
        clients.push(client);
    }
    for (i, client) in clients.iter_mut().enumerate() {
        let video = i < usize::from(args.video);
        client.send(
            &call,
            Sending {
                audio_level: Some(-20),
                video_fps: if video { 15 } else { 0 },
                simulcast: false,
                tone_hz: None,
            },
        );
        if video {
            client
                .ok(Request::SetVideo {
                    call_id: call.clone(),
                    source: rtcall_protocol::signal::VideoSource::Camera,
                    on: true,
                })
                .await;
        }
    }
    // Everyone watches every video.
    if args.video > 0 {
        for i in 0..clients.len() {
            for j in 0..usize::from(args.video) {
                if i == j {
                    continue;
                }
                let identity = clients[j].identity.clone();
                let participant = clients[i]
                    .wait_participant(
                        &call,
                        &identity,
                        rtcall_protocol::call::ParticipantState::Connected,
                    )
                    .await;
                let stream = clients[i].wait_camera(&call, participant).await;
                clients[i]
                    .ok(Request::Subscribe {
                        call_id: call.clone(),
                        stream_id: stream,
                        max_height: 720,
                    })
                    .await;
            }
        }
    }
    let received = |clients: &[Client]| -> u64 {
        clients
            .iter()
            .map(|c| {
                c.media(&call)
                    .lock()
                    .unwrap()
                    .lines
                    .values()
                    .map(|l| l.packets)
                    .sum::<u64>()
            })
            .sum()
    };
    // Warm up, then measure.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (cpu0, packets0, t0) = (server.cpu_time(), received(&clients), Instant::now());
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let (cpu1, packets1, elapsed) = (server.cpu_time(), received(&clients), t0.elapsed());
    let packets = packets1 - packets0;
    let cpu = cpu1 - cpu0;
    let pps = packets as f64 / elapsed.as_secs_f64();
    let cpu_share = cpu.as_secs_f64() / elapsed.as_secs_f64();
    println!(
        "participants={} video senders={} window={:.1} s: forwarded {:.0} packets/s, server CPU {:.1}% of a core, {:.2} us/packet => {:.0} packets/s per core",
        args.participants,
        args.video,
        elapsed.as_secs_f64(),
        pps,
        cpu_share * 100.0,
        cpu.as_secs_f64() * 1e6 / packets as f64,
        pps / cpu_share
    );
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    match args.scenario.as_str() {
        "setup" => setup(&args).await,
        "sfu" => sfu(&args).await,
        _ => usage(),
    }
}
