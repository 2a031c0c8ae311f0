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
pub mod echo;
mod error;
pub mod http;
pub mod identity;
pub mod node;
pub mod phone;
pub mod sfu;
pub mod signaling;
pub mod store;

pub use config::Config;
pub use error::ApiError;

use echo::EchoConfig;
use identity::{AccessKey, IdentityService};
use node::{Node, NodeHandle, Telephony};
use phone::tcp::SipStreams;
use phone::{Gateway, MediaPorts};
use rtcall_sip::call::Transport;
use sfu::{Sfu, SfuConfig};
use signaling::hub::{Hub, HubConfig};
use signaling::SignalingConfig;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use store::Store;
use tokio::net::{TcpListener, UdpSocket};

/// What every request handler shares.
#[derive(Debug)]
pub struct AppState {
    /// Identities and tokens.
    pub identities: Arc<IdentityService>,
    /// The key that signs identity API requests.
    pub access_key: AccessKey,
    /// Whether the demo endpoint hands out identities (off in production).
    pub demo_enabled: bool,
    /// Signaling settings.
    pub signaling: SignalingConfig,
    /// The node loop that runs calls.
    pub node: NodeHandle,
    /// The deployment's phone numbers (caller ids), for the demo app.
    pub phone_numbers: Vec<String>,
}

/// A bound, ready server.
pub struct Server {
    listener: TcpListener,
    state: Arc<AppState>,
    config: Config,
    local_addr: SocketAddr,
    media_addr: SocketAddr,
    node: Node,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("media_addr", &self.media_addr)
            .finish()
    }
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
        let identities = Arc::new(IdentityService::load(store, public_url)?);
        let socket = UdpSocket::bind(config.media_udp).await?;
        let media_addr = socket.local_addr()?;
        let sfu = Sfu::new(SfuConfig {
            public: config.media_public,
            forward_all_audio_max: config.forward_all_audio_max,
            loudest_audio: config.loudest_audio,
            echo: EchoConfig {
                record: config.echo_record,
            },
            ..SfuConfig::local(media_addr)
        })
        .map_err(std::io::Error::other)?;
        let directory = Arc::clone(&identities);
        // The numbers the deployment owns: the caller ids calls to phones may show.
        let phone_numbers: Vec<String> = config
            .phone
            .iter()
            .flat_map(|p| p.trunks.iter().flat_map(|t| t.numbers.iter().cloned()))
            .collect();
        let hub = Hub::new(
            HubConfig {
                ring_timeout: config.ring_timeout,
                phone_numbers: phone_numbers.clone(),
                ..HubConfig::default()
            },
            Box::new(move |id| directory.exists(id)),
        );
        let phone = match &config.phone {
            Some(phone) => {
                let sip = UdpSocket::bind(phone.sip_udp).await?;
                let mut rtp = Vec::with_capacity(usize::from(phone.rtp_ports));
                for i in 0..phone.rtp_ports {
                    let port = match phone.rtp_udp.port() {
                        0 => 0,
                        first => first + i,
                    };
                    let address = SocketAddr::new(phone.rtp_udp.ip(), port);
                    rtp.push(std::sync::Arc::new(UdpSocket::bind(address).await?));
                }
                // Each call's own connection to the SFU, like any client's.
                let mut webrtc = Vec::with_capacity(rtp.len());
                let mut ports = Vec::with_capacity(rtp.len());
                for socket in &rtp {
                    let own = UdpSocket::bind(SocketAddr::new(phone.rtp_udp.ip(), 0)).await?;
                    ports.push(MediaPorts {
                        rtp: socket.local_addr()?,
                        webrtc: own.local_addr()?,
                    });
                    webrtc.push(std::sync::Arc::new(own));
                }
                let mut phone = phone.clone();
                // A port 0 in the settings is the one the system gave.
                phone.sip_udp = sip.local_addr()?;
                // TCP trunks reach the gateway on the same port number, over TCP.
                let tcp = phone.trunks.iter().any(|t| t.transport == Transport::Tcp);
                let sip_tcp = match tcp {
                    true => Some(tokio::net::TcpListener::bind(phone.sip_udp).await?),
                    false => None,
                };
                let (streams, received) = SipStreams::new();
                Some((
                    Telephony {
                        gateway: Gateway::new(phone, ports, rand::random()),
                        sip,
                        rtp,
                        webrtc,
                        sip_tcp,
                        streams,
                    },
                    received,
                ))
            }
            None => None,
        };
        let (node, handle) = Node::new(hub, sfu, socket, phone)?;
        let state = Arc::new(AppState {
            identities,
            access_key,
            demo_enabled: !config.production,
            signaling: SignalingConfig {
                heartbeat_interval: config.heartbeat_interval,
                turn: config.turn.clone(),
            },
            node: handle,
            phone_numbers,
        });
        Ok(Server {
            listener,
            state,
            config,
            local_addr,
            media_addr,
            node,
        })
    }

    /// The SFU's UDP address.
    pub fn media_addr(&self) -> SocketAddr {
        self.media_addr
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
        // The node stops when the last handle to it (in the app state) is dropped.
        tokio::spawn(self.node.run());
        let app = http::app(self.state, &self.config);
        axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    }
}
