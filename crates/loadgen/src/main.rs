//! `rtcall-loadgen`: measures rtcall-server with native clients over loopback.
//!
//! ```text
//! rtcall-loadgen setup --server-bin target/server/rtcall-server --calls 50
//! rtcall-loadgen sfu   --server-bin target/server/rtcall-server --participants 30 --seconds 10
//! rtcall-loadgen sfu   --server-bin target/server/rtcall-server --calls 4 --media-workers 2
//! ```
//!
//! It starts the server itself (fresh data directory, loopback ports), so it can read the server
//! process's CPU time from `/proc`. `setup` times `startCall` until both sides are `Connected`
//! (the callee answers as soon as it rings). `sfu` runs `--calls` group calls at once where
//! everyone sends Opus-sized audio at 50 packets/s (and optionally video), and reports the
//! packets per second the server forwarded, its CPU time per forwarded packet, and the load
//! generator's own CPU. Its clients leave the forwarded media to the kernel to drop (tiny
//! receive buffers), so that they cost little beside the server; what the server sent is
//! read from the kernel's UDP counters, less what the clients sent. A generator near a core
//! says it may be the bottleneck.

use rtcall_loadgen::scenario::{group, new_call_id, watch_cameras};
use rtcall_loadgen::server::{cpu_time, ServerProcess};
use rtcall_loadgen::{Client, Receiving, Sending};
use rtcall_protocol::call::{CallId, CallState};
use rtcall_protocol::signal::Request;
use std::time::{Duration, Instant};

fn usage() -> ! {
    eprintln!(
        "usage: rtcall-loadgen setup --server-bin PATH [--calls N]\n       \
         rtcall-loadgen sfu --server-bin PATH [--calls N] [--participants N] [--video N] [--seconds S]\n                          \
         [--forward-all-audio-max N] [--media-workers N]"
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
    media_workers: Option<usize>,
}

fn parse_args() -> Args {
    let mut args = std::env::args().skip(1);
    let scenario = args.next().unwrap_or_else(|| usage());
    let mut parsed = Args {
        calls: if scenario == "setup" { 50 } else { 1 },
        scenario,
        server_bin: String::new(),
        participants: 30,
        video: 0,
        seconds: 10,
        forward_all_audio_max: 20,
        media_workers: None,
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
            "--media-workers" => parsed.media_workers = Some(number()),
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
    let workers = args.media_workers.map(|w| w.to_string());
    let mut flags = vec!["--forward-all-audio-max", &max];
    if let Some(workers) = &workers {
        flags.extend(["--media-workers", workers]);
    }
    let server = ServerProcess::start(&args.server_bin, &data.0, &flags);
    // Every call set up first, then the load: a worker busy with the first calls' media would
    // slow the later ones' set-up past the clients' deadlines.
    let mut calls: Vec<(CallId, Vec<Client>)> = Vec::new();
    for _ in 0..args.calls {
        let call = new_call_id();
        let clients = group(
            &server.url,
            &call,
            1..=args.participants,
            Receiving::Discard,
        )
        .await;
        calls.push((call, clients));
    }
    let publishers: Vec<usize> = (0..usize::from(args.video)).collect();
    for (call, clients) in &mut calls {
        for client in clients.iter() {
            client.send(call, Sending::audio(-20));
        }
        // The publishers then send their camera too.
        watch_cameras(clients, call, &publishers, -20, 720).await;
    }
    // What the clients sent so far: the kernel counts their datagrams with the server's.
    let sent = |calls: &[(CallId, Vec<Client>)]| -> u64 {
        calls
            .iter()
            .flat_map(|(call, clients)| clients.iter().map(move |c| c.media(call)))
            .map(|m| m.lock().unwrap().sent)
            .sum()
    };
    // Warm up, then measure.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let start = (
        server.cpu_time(),
        own_cpu(),
        udp_counters(),
        sent(&calls),
        Instant::now(),
    );
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let elapsed = start.4.elapsed();
    let udp = udp_counters();
    let forwarded = (udp.0 - start.2 .0).saturating_sub(sent(&calls) - start.3);
    let send_errors = udp.1 - start.2 .1;
    let cpu = server.cpu_time() - start.0;
    let generator = own_cpu() - start.1;
    let pps = forwarded as f64 / elapsed.as_secs_f64();
    let cpu_share = cpu.as_secs_f64() / elapsed.as_secs_f64();
    let generator_share = generator.as_secs_f64() / elapsed.as_secs_f64();
    // The audio the clients send makes, forwarded, this many packets per second.
    let n = f64::from(args.participants);
    let audio_streams = if usize::from(args.participants) <= args.forward_all_audio_max {
        n * (n - 1.0)
    } else {
        // Three loudest slots at everyone but themselves: about 3 × n streams.
        3.0 * n
    };
    let offered = args.calls as f64 * 50.0 * audio_streams;
    println!(
        "calls={} participants={} video senders={} workers={} window={:.1} s: forwarded {:.0} packets/s \
         (audio alone would be {:.0}; {} sends failed), server CPU {:.1}% of a core, {:.2} us/packet \
         => {:.0} packets/s per core; load generator CPU {:.1}% of a core{}",
        args.calls,
        args.participants,
        args.video,
        workers.as_deref().unwrap_or("default"),
        elapsed.as_secs_f64(),
        pps,
        offered,
        send_errors,
        cpu_share * 100.0,
        cpu.as_secs_f64() * 1e6 / forwarded as f64,
        pps / cpu_share,
        generator_share * 100.0,
        if generator_share > 0.8 {
            " (the generator may be the bottleneck)"
        } else {
            ""
        }
    );
}

/// The kernel's UDP counters (`/proc/net/snmp`): datagrams sent, and sends that failed for a
/// full socket buffer, by every process.
fn udp_counters() -> (u64, u64) {
    let snmp = std::fs::read_to_string("/proc/net/snmp").expect("/proc/net/snmp");
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp: "));
    let (names, values) = (
        udp.next().expect("Udp names"),
        udp.next().expect("Udp values"),
    );
    let field = |name: &str| -> u64 {
        let i = names
            .split_whitespace()
            .position(|n| n == name)
            .unwrap_or_else(|| panic!("no {name} in /proc/net/snmp"));
        values
            .split_whitespace()
            .nth(i)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("OutDatagrams"), field("SndbufErrors"))
}

/// This process's CPU time so far.
fn own_cpu() -> Duration {
    cpu_time(std::process::id())
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
