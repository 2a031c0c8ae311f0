//! `rtcall-loadgen`: measures rtcall-server with native clients over loopback.
//!
//! ```text
//! rtcall-loadgen setup --server-bin target/server/rtcall-server --calls 50
//! rtcall-loadgen sfu   --server-bin target/server/rtcall-server --participants 30 --seconds 10
//! rtcall-loadgen sfu   --server-bin target/server/rtcall-server --calls 4 --media-workers 2
//! rtcall-loadgen meeting --server-bin target/server/rtcall-server --participants 350
//! rtcall-loadgen join --server-url http://127.0.0.1:8080 --group-id <uuid> --participants 47
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
//! says it may be the bottleneck. `meeting` runs the brief's large meeting
//! ([`MeetingShape::large`]) and adds what such a call costs: set-up time, memory per
//! participant, what each receiver got, packets the server's sockets dropped, and the
//! sender-to-receiver delay of audio (an upper bound of the time a packet spends in the SFU).

use rtcall_loadgen::kernel::{self, UdpCounters};
use rtcall_loadgen::scenario::{
    discarded, group, meeting, new_call_id, watch_cameras, MeetingShape,
};
use rtcall_loadgen::server::ServerProcess;
use rtcall_loadgen::{Client, Receiving, Sending};
use rtcall_protocol::call::{CallId, CallState};
use rtcall_protocol::signal::Request;
use std::time::{Duration, Instant};

fn usage() -> ! {
    eprintln!(
        "usage: rtcall-loadgen setup --server-bin PATH [--calls N]\n       \
         rtcall-loadgen sfu --server-bin PATH [--calls N] [--participants N] [--video N] [--seconds S]\n                          \
         [--forward-all-audio-max N] [--media-workers N]\n       \
         rtcall-loadgen meeting --server-bin PATH [--participants N] [--seconds S] [--media-workers N]\n       \
         rtcall-loadgen join --server-url URL --group-id ID [--participants N]"
    );
    std::process::exit(2)
}

struct Args {
    scenario: String,
    server_bin: String,
    /// `join`: a running server's URL, and the group call to join there.
    server_url: String,
    group_id: String,
    calls: usize,
    participants: u16,
    video: u16,
    seconds: u64,
    forward_all_audio_max: usize,
    media_workers: Option<usize>,
}

fn parse_args() -> Args {
    let mut args = std::env::args().skip(1);
    let scenario = args.next().unwrap_or_else(|| usage());
    let mut parsed = Args {
        calls: if scenario == "setup" { 50 } else { 1 },
        participants: if scenario == "meeting" { 350 } else { 30 },
        scenario,
        server_bin: String::new(),
        server_url: String::new(),
        group_id: String::new(),
        video: 0,
        seconds: 10,
        forward_all_audio_max: 20,
        media_workers: None,
    };
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        let number = |range: std::ops::RangeInclusive<u64>| in_range(&flag, &value, range);
        match flag.as_str() {
            "--server-bin" => parsed.server_bin = value.clone(),
            "--server-url" => parsed.server_url = value.clone(),
            "--group-id" => parsed.group_id = value.clone(),
            "--calls" => parsed.calls = number(1..=100) as usize,
            "--participants" => parsed.participants = number(2..=MAX_PARTICIPANTS) as u16,
            "--video" => parsed.video = number(0..=MAX_PARTICIPANTS) as u16,
            "--seconds" => parsed.seconds = number(1..=3600),
            "--forward-all-audio-max" => parsed.forward_all_audio_max = number(0..=1000) as usize,
            "--media-workers" => parsed.media_workers = Some(number(1..=64) as usize),
            _ => usage(),
        }
    }
    // The meeting's cameras, its sharer and its observers are all different people.
    let meeting = MeetingShape::large(parsed.participants);
    if parsed.scenario == "meeting"
        && usize::from(parsed.participants) < meeting.cameras + 1 + usize::from(meeting.observers)
    {
        refuse("--participants", "a meeting needs 14 participants at least")
    }
    if parsed.participants > CALL_LIMIT {
        refuse(
            "--participants",
            "a call holds 350 participants at most: spread more over --calls",
        )
    }
    if parsed.video > parsed.participants {
        refuse("--video", "more camera publishers than --participants")
    }
    let join = parsed.scenario == "join";
    if join && (parsed.server_url.is_empty() || parsed.group_id.is_empty())
        || !join && parsed.server_bin.is_empty()
    {
        usage();
    }
    parsed
}

/// The largest count `--participants` and `--video` parse (a larger one is out of range; one
/// past [`CALL_LIMIT`] is refused for the call's sake). Tags and their video tags (`tag * 10 + 9`)
/// fit a [`Tag`] well past it.
const MAX_PARTICIPANTS: u64 = 1_000;

/// The most participants the server lets into one call.
const CALL_LIMIT: u16 = 350;

/// `value` of `flag` as a number within `range`, or the process ends saying why: a count out of
/// range is refused, never truncated.
fn in_range(flag: &str, value: &str, range: std::ops::RangeInclusive<u64>) -> u64 {
    match value.parse::<u64>() {
        Ok(n) if range.contains(&n) => n,
        Ok(_) => refuse(
            flag,
            &format!(
                "{value} is out of range {}..={}",
                range.start(),
                range.end()
            ),
        ),
        Err(_) => refuse(flag, &format!("{value:?} is not a whole number")),
    }
}

fn refuse(flag: &str, why: &str) -> ! {
    eprintln!("rtcall-loadgen: {flag}: {why}");
    std::process::exit(2)
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

/// Starts the server for `args`, with extra `flags`.
fn start_server(args: &Args, data: &TempDir, flags: &[&str]) -> ServerProcess {
    let workers = args.media_workers.map(|w| w.to_string());
    let mut all = flags.to_vec();
    if let Some(workers) = &workers {
        all.extend(["--media-workers", workers]);
    }
    ServerProcess::start(&args.server_bin, &data.0, &all)
}

/// What the counters say at one moment of a measurement.
struct Snapshot {
    at: Instant,
    server_cpu: Duration,
    own_cpu: Duration,
    udp: UdpCounters,
    /// Datagrams the clients sent: the kernel counts theirs with the server's.
    clients_sent: u64,
}

impl Snapshot {
    fn take(server: &ServerProcess, calls: &[(CallId, Vec<Client>)]) -> Snapshot {
        let clients_sent = calls
            .iter()
            .flat_map(|(call, clients)| clients.iter().map(move |c| c.media(call)))
            .map(|m| m.lock().unwrap().sent)
            .sum();
        Snapshot {
            at: Instant::now(),
            server_cpu: server.cpu_time(),
            own_cpu: kernel::cpu_time(std::process::id()),
            udp: UdpCounters::now(),
            clients_sent,
        }
    }
}

/// What the server did between two snapshots.
struct Measured {
    seconds: f64,
    /// Packets per second the server sent.
    forwarded: f64,
    send_errors: u64,
    /// Server CPU per second (1.0: a whole core).
    server_share: f64,
    generator_share: f64,
}

impl Measured {
    fn between(start: &Snapshot, end: &Snapshot) -> Measured {
        let seconds = (end.at - start.at).as_secs_f64();
        let sent = end.udp.sent - start.udp.sent;
        let forwarded = sent.saturating_sub(end.clients_sent - start.clients_sent);
        Measured {
            seconds,
            forwarded: forwarded as f64 / seconds,
            send_errors: end.udp.send_buffer_errors - start.udp.send_buffer_errors,
            server_share: (end.server_cpu - start.server_cpu).as_secs_f64() / seconds,
            generator_share: (end.own_cpu - start.own_cpu).as_secs_f64() / seconds,
        }
    }

    /// The forwarding cost, as one line.
    fn cost(&self) -> String {
        format!(
            "forwarded {:.0} packets/s ({} sends failed), server CPU {:.1}% of a core, \
             {:.2} us/packet => {:.0} packets/s per core; load generator CPU {:.1}% of a core{}",
            self.forwarded,
            self.send_errors,
            self.server_share * 100.0,
            self.server_share * 1e6 / self.forwarded,
            self.forwarded / self.server_share,
            self.generator_share * 100.0,
            if self.generator_share > 0.8 {
                " (the generator may be the bottleneck)"
            } else {
                ""
            }
        )
    }
}

async fn sfu(args: &Args) {
    let data = TempDir::new();
    let max = args.forward_all_audio_max.to_string();
    let server = start_server(args, &data, &["--forward-all-audio-max", &max]);
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
    // Warm up, then measure.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let start = Snapshot::take(&server, &calls);
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let measured = Measured::between(&start, &Snapshot::take(&server, &calls));
    // The audio the clients send makes, forwarded, this many packets per second.
    let n = f64::from(args.participants);
    let audio_streams = if usize::from(args.participants) <= args.forward_all_audio_max {
        n * (n - 1.0)
    } else {
        // Three loudest slots at everyone but themselves: about 3 × n streams.
        3.0 * n
    };
    println!(
        "calls={} participants={} video senders={} workers={} window={:.1} s: {} \
         (audio alone would be {:.0} packets/s)",
        args.calls,
        args.participants,
        args.video,
        workers_label(args),
        measured.seconds,
        measured.cost(),
        args.calls as f64 * 50.0 * audio_streams,
    );
}

fn workers_label(args: &Args) -> String {
    args.media_workers
        .map_or_else(|| "default".to_owned(), |w| w.to_string())
}

async fn meeting_scenario(args: &Args) {
    let data = TempDir::new();
    let server = start_server(args, &data, &[]);
    let idle_memory = kernel::resident_memory(server.pid());
    let shape = MeetingShape::large(args.participants);
    let call = new_call_id();
    let setup = Instant::now();
    let clients = meeting(&server.url, &call, shape).await;
    let setup = setup.elapsed();
    let calls = vec![(call, clients)];
    let (call, clients) = &calls[0];
    // Warm up (the subscriptions' keyframes), then measure.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (discarding, observers) =
        clients.split_at(usize::from(shape.participants - shape.observers));
    for o in observers {
        o.media(call).lock().unwrap().audio_delays.clear();
    }
    let (server_drops, got) = (
        kernel::udp_drops_of(server.pid()),
        discarded(call, discarding),
    );
    let start = Snapshot::take(&server, &calls);
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let end = Snapshot::take(&server, &calls);
    let (server_drops, got) = (
        kernel::udp_drops_of(server.pid()) - server_drops,
        discarded(call, discarding)
            .iter()
            .zip(got)
            .map(|(end, start)| end - start)
            .collect::<Vec<_>>(),
    );
    let measured = Measured::between(&start, &end);
    let memory = kernel::resident_memory(server.pid());
    let per_receiver = |q: f64| quantile(&got, q) as f64 / measured.seconds;
    let mut delays: Vec<Duration> = observers
        .iter()
        .flat_map(|o| o.media(call).lock().unwrap().audio_delays.clone())
        .collect();
    delays.sort();
    let delay = |q: f64| {
        delays
            .get(((delays.len().max(1) - 1) as f64 * q).round() as usize)
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
    };
    println!(
        "meeting participants={} (talking {}, cameras {}, screen {}) workers={} set-up {:.1} s; \
         window={:.1} s: {}; server memory {:.1} MiB ({:.0} KiB per participant); packets per \
         receiver per second min {:.0} median {:.0}; dropped at the server's sockets {}; audio \
         sender-to-receiver delay p50 {:.2} ms p99 {:.2} ms (n={})",
        shape.participants,
        shape.talkers,
        shape.cameras,
        shape.screen,
        workers_label(args),
        setup.as_secs_f64(),
        measured.seconds,
        measured.cost(),
        memory as f64 / (1 << 20) as f64,
        memory.saturating_sub(idle_memory) as f64 / 1024.0 / f64::from(shape.participants),
        per_receiver(0.0),
        per_receiver(0.5),
        server_drops,
        delay(0.5),
        delay(0.99),
        delays.len(),
    );
}

/// Joins `--participants` clients to the group call `--group-id` on a running server, the first
/// talking loudly and the rest silent (DTX), prints `joined N` and stays until its standard
/// input closes: the crowd for a browser test of a large call.
async fn join(args: &Args) {
    let url = format!("{}/", args.server_url.trim_end_matches('/'));
    let call = CallId(args.group_id.clone());
    let clients = group(&url, &call, 1..=args.participants, Receiving::Discard).await;
    for (i, client) in clients.iter().enumerate() {
        client.send(
            &call,
            Sending {
                audio_level: Some(if i == 0 { -10 } else { -127 }),
                dtx: true,
                ..Sending::default()
            },
        );
    }
    println!("joined {}", clients.len());
    let mut rest = String::new();
    let _ = tokio::task::spawn_blocking(move || std::io::stdin().read_line(&mut rest)).await;
}

/// The `q` quantile of `values` (0 for none).
fn quantile(values: &[u64], q: f64) -> u64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    sorted
        .get(((sorted.len().max(1) - 1) as f64 * q).round() as usize)
        .copied()
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    match args.scenario.as_str() {
        "setup" => setup(&args).await,
        "sfu" => sfu(&args).await,
        "meeting" => meeting_scenario(&args).await,
        "join" => join(&args).await,
        _ => usage(),
    }
}
