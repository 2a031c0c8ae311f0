//! Test harness: the real `rtcall-server` binary (started with `TestServer`, from
//! `rtcall-loadgen`, on loopback ports with its own data directory), and a client that signs
//! identity API requests with the access key.
#![allow(dead_code)] // each test file uses a different part of the harness

pub use rtcall_loadgen::server::ServerProcess as TestServer;
use rtcall_server::identity::AccessKey;
use std::time::SystemTime;

/// The server binary cargo built for these tests.
pub const SERVER_BIN: &str = env!("CARGO_BIN_EXE_rtcall-server");

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
