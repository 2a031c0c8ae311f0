//! rtcall-server: rtcall's calling service in one binary.
//!
//! This crate holds identities and access tokens ([`identity`]), their embedded SQLite storage
//! ([`store`]), the HTTP surface that also serves the demo app ([`http`]), and the settings that
//! configure them ([`config`]). It depends on `rtcall-protocol` for the wire format and on tokio
//! and axum for I/O; the protocol logic below the shell takes time as an input.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use rtcall_server::{Config, Server};
//!
//! let server = Server::bind(Config::local("rtcall-data")).await?;
//! println!("listening on {}", server.public_url());
//! server.run(std::future::pending()).await
//! # }
//! ```
#![forbid(unsafe_code)]

pub mod config;
mod error;
pub mod http;
pub mod identity;
pub mod store;

pub use config::Config;
pub use error::ApiError;

use identity::{AccessKey, IdentityService};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use store::Store;
use tokio::net::TcpListener;

/// What every request handler shares.
#[derive(Debug)]
pub struct AppState {
    /// Identities and tokens.
    pub identities: IdentityService,
    /// The key that signs identity API requests.
    pub access_key: AccessKey,
    /// Whether the demo endpoint hands out identities (off in production).
    pub demo_enabled: bool,
}

/// A bound, ready server.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    state: Arc<AppState>,
    config: Config,
    local_addr: SocketAddr,
}

impl Server {
    /// Opens the data directory, loads identities and keys, and binds the listening socket.
    pub async fn bind(config: Config) -> std::io::Result<Self> {
        let listener = TcpListener::bind(config.listen).await?;
        let local_addr = listener.local_addr()?;
        let public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{local_addr}/"));
        let store = Arc::new(Store::open(&config.data_dir)?);
        let access_key = match &config.access_key {
            Some(key) => key.clone(),
            None => AccessKey::from_bytes(
                store
                    .setting_or_init("access_key", || AccessKey::generate().as_bytes().to_vec())
                    .map_err(std::io::Error::other)?,
            ),
        };
        let identities = IdentityService::load(store, public_url)?;
        let state = Arc::new(AppState {
            identities,
            access_key,
            demo_enabled: !config.production,
        });
        Ok(Server {
            listener,
            state,
            config,
            local_addr,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The public URL clients connect to (the tokens' issuer).
    pub fn public_url(&self) -> &str {
        self.state.identities.issuer()
    }

    /// The connection string identity clients use: `endpoint=<url>;accesskey=<base64>`.
    /// It contains the secret access key: show it only to the operator.
    pub fn connection_string(&self) -> String {
        format!(
            "endpoint={};accesskey={}",
            self.public_url(),
            self.state.access_key.to_base64()
        )
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let app = http::app(self.state, &self.config);
        axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    }
}
