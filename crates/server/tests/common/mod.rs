//! Test harness: runs the real `rtcall-server` binary on a loopback port with its own data
//! directory, and a client that signs identity API requests with the access key.
#![allow(dead_code)] // each test file uses a different part of the harness

pub mod client;

use rtcall_server::identity::AccessKey;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// How long the server may take to print its listening line.
const START_DEADLINE: Duration = Duration::from_secs(20);

/// A running `rtcall-server` process, stopped (SIGTERM, then waited for) on drop.
pub struct TestServer {
    child: Child,
    /// `http://127.0.0.1:<port>/`.
    pub url: String,
    /// The lines it printed to stdout before serving.
    pub banner: Vec<String>,
    /// Everything it logged to stderr so far.
    log: Arc<Mutex<String>>,
    log_reader: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    /// Starts the server on a free port with `data_dir` and extra `args`, and waits until it
    /// listens.
    pub fn start(data_dir: &Path, args: &[&str]) -> TestServer {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rtcall-server"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--media-udp",
                "127.0.0.1:0",
                "--data-dir",
            ])
            .arg(data_dir)
            .args(args)
            // Log everything, so the no-secrets-in-logs checks see the most output there is.
            .env("RUST_LOG", "trace")
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
        TestServer {
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

impl Drop for TestServer {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// A fresh temporary data directory.
pub fn data_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// An identity API client that signs its requests.
pub struct IdentityClient {
    pub server_url: String,
    pub host: String,
    pub key: AccessKey,
    pub http: reqwest::Client,
}

/// A response: status and JSON body (`Null` when empty).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: serde_json::Value,
}

impl Reply {
    /// The error code of an error body.
    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("<none>")
    }
}

impl IdentityClient {
    pub fn new(server: &TestServer, key: AccessKey) -> Self {
        IdentityClient {
            server_url: server.url.clone(),
            host: server.host(),
            key,
            http: reqwest::Client::new(),
        }
    }

    /// Sends a request signed at the current time.
    pub async fn send(&self, method: &str, path_and_query: &str, body: &[u8]) -> Reply {
        self.send_signed_at(method, path_and_query, body, SystemTime::now())
            .await
    }

    /// Sends a request signed at `date`.
    pub async fn send_signed_at(
        &self,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        date: SystemTime,
    ) -> Reply {
        let headers = self
            .key
            .sign(method, path_and_query, &self.host, date, body);
        self.send_with(method, path_and_query, body.to_vec(), &headers)
            .await
    }

    /// Sends a request with the given headers and body, signed or not.
    pub async fn send_with(
        &self,
        method: &str,
        path_and_query: &str,
        body: Vec<u8>,
        headers: &[(&'static str, String)],
    ) -> Reply {
        let url = format!(
            "{}{}",
            self.server_url,
            path_and_query.trim_start_matches('/')
        );
        let mut request = self
            .http
            .request(method.parse().expect("method"), url)
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        reply(request.send().await.expect("request sent")).await
    }
}

/// Reads a response into a [`Reply`].
pub async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let bytes = response.bytes().await.expect("body");
    let body = if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            panic!(
                "non-JSON body ({status}): {}",
                String::from_utf8_lossy(&bytes)
            )
        })
    };
    Reply { status, body }
}

/// Path of a file in the repository, from this crate's directory.
pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}
