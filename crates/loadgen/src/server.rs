//! Runs the real `rtcall-server` binary on loopback ports with its own data directory, and
//! stops it (SIGTERM, then waits) when dropped.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the server may take to print its listening line.
const START_DEADLINE: Duration = Duration::from_secs(20);

/// A running `rtcall-server` process, stopped (SIGTERM, then waited for) on drop.
pub struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:<port>/`.
    pub url: String,
    /// The lines it printed to stdout before serving.
    pub banner: Vec<String>,
    /// Everything it logged to stderr so far.
    log: Arc<Mutex<String>>,
    log_reader: Option<std::thread::JoinHandle<()>>,
}

impl ServerProcess {
    /// Starts the server on a free port with `data_dir` and extra `args`, and waits until it
    /// listens.
    pub fn start(binary: &str, data_dir: &Path, args: &[&str]) -> ServerProcess {
        let mut child = Command::new(binary)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--media-udp",
                "127.0.0.1:0",
                "--data-dir",
            ])
            .arg(data_dir)
            .args(args)
            // The service's own code and its HTTP stack at the most detailed level, so checks
            // for secrets in logs see the most output there is; str0m's per-packet tracing off.
            .env(
                "RUST_LOG",
                "rtcall_server=trace,tower_http=trace,axum=trace,info",
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rtcall-server");
        let log = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&log);
        let log_reader = std::thread::spawn(move || {
            let mut buf = [0; 4096];
            while let Ok(n @ 1..) = stderr.read(&mut buf) {
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let (lines_tx, lines_rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + START_DEADLINE;
        let mut banner = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines_rx.recv_timeout(left) {
                Ok(line) => {
                    let done = line.starts_with("connection string");
                    banner.push(line);
                    if done {
                        break;
                    }
                }
                Err(_) => panic!(
                    "rtcall-server did not start; stdout: {banner:?}; stderr: {}",
                    log.lock().unwrap()
                ),
            }
        }
        let url = banner[0]
            .strip_prefix("rtcall-server listening on ")
            .expect("listening line first")
            .to_owned();
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || while lines_rx.recv().is_ok() {});
        ServerProcess {
            child,
            url,
            banner,
            log,
            log_reader: Some(log_reader),
        }
    }

    /// A URL on this server.
    pub fn at(&self, path: &str) -> String {
        format!("{}{}", self.url, path.trim_start_matches('/'))
    }

    /// `host:port`, as the Host header carries it.
    pub fn host(&self) -> String {
        self.url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process's CPU time (user + system) so far.
    pub fn cpu_time(&self) -> Duration {
        crate::kernel::cpu_time(self.pid())
    }

    /// Stops the server gracefully, waits for it to exit, and returns all it logged.
    pub fn stop(mut self) -> String {
        self.terminate();
        if let Some(reader) = self.log_reader.take() {
            let _ = reader.join();
        }
        let log = self.log.lock().unwrap().clone();
        log
    }

    fn terminate(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.terminate();
    }
}
