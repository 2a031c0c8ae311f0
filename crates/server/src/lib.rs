//! rtcall-server: rtcall's calling service in one binary.
//!
//! Identities and access tokens ([`identity`]) with their embedded SQLite storage ([`store`]);
//! the HTTP surface that also serves the demo app ([`http`]); three sans-IO engines — the call
//! hub ([`signaling::hub`]), the SFU ([`sfu`]) with the echo bot ([`echo`]), the telephone
//! gateway ([`phone`]) — which speak only through [`contract`]; and the [`node`] shell, the one
//! place that wires them to sockets, threads and the clock. The settings are in [`config`].
//! It depends on `rtcall-protocol` for the wire format, `rtcall-sip` for SIP, str0m for
//! WebRTC, and tokio and axum for I/O.
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
pub mod contract;
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
use node::media::MediaSocket;
use node::{MediaWorkers, Node, Telephony};
use sfu::SfuConfig;
use signaling::hub::{Hub, HubConfig};
use signaling::{NodeHandle, SignalingConfig, NODE_INBOX_CAPACITY};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use store::Store;
use tokio::net::TcpListener;

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
    media_addrs: Vec<SocketAddr>,
    node: Node,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("media_addrs", &self.media_addrs)
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
        let media = bind_media(&config)?;
        let media_addrs = media.addresses();
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
                resume_window: config.resume_window,
                ..HubConfig::default()
            },
            Box::new(move |id| directory.exists(id)),
        );
        let phone = match &config.phone {
            Some(phone) => Some(Telephony::bind(phone, rand::random()).await?),
            None => None,
        };
        let (handle, sessions) = NodeHandle::channel(NODE_INBOX_CAPACITY);
        let node = Node::new(hub, media, phone, sessions);
        let state = Arc::new(AppState {
            identities,
            access_key,
            demo_enabled: !config.production,
            signaling: SignalingConfig {
                heartbeat_interval: config.heartbeat_interval,
                turn: config.turn.clone(),
                resume_window: config.resume_window,
            },
            node: handle,
            phone_numbers,
        });
        Ok(Server {
            listener,
            state,
            config,
            local_addr,
            media_addrs,
            node,
        })
    }

    /// The media workers' UDP addresses, each worker's in turn (one per interface address
    /// when the SFU listens on every interface).
    pub fn media_addrs(&self) -> &[SocketAddr] {
        &self.media_addrs
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

/// Binds the media workers' UDP sockets and starts the workers. Worker k listens k ports above
/// `media_udp` (any free ports for port 0), at that address, or for an unspecified address
/// without a public one at every interface address of its family (read once, at start): a
/// browser sends media only from its own interfaces' addresses (Firefox never from loopback),
/// so the SFU must be a candidate at each.
fn bind_media(config: &Config) -> std::io::Result<MediaWorkers> {
    let any = config.media_udp.ip();
    let each_interface = any.is_unspecified() && config.media_public.is_none();
    let ips = if each_interface {
        interface_ips(any, if_addrs::get_if_addrs()?.iter().map(|i| i.ip()))
    } else {
        vec![any]
    };
    let shifted =
        |first: SocketAddr, k| node::media::shifted(first, k).map_err(std::io::Error::other);
    let mut workers = Vec::with_capacity(config.media_workers);
    for k in 0..config.media_workers {
        let mut sockets = Vec::with_capacity(ips.len());
        for &ip in &ips {
            let address = match config.media_udp.port() {
                0 => SocketAddr::new(ip, 0),
                _ => shifted(SocketAddr::new(ip, config.media_udp.port()), k)?,
            };
            let socket = match std::net::UdpSocket::bind(address) {
                Ok(socket) => socket,
                // An interface's address may be gone, or not usable yet (IPv6 still checking
                // for duplicates): the others still serve.
                Err(e) if each_interface => {
                    tracing::warn!(%address, error = %e, "media worker {k} skips an address it cannot bind");
                    continue;
                }
                Err(e) => {
                    return Err(std::io::Error::new(
                        e.kind(),
                        format!("media worker {k} on udp {address}: {e}"),
                    ))
                }
            };
            let advertised = match config.media_public {
                Some(public) => shifted(public, k)?,
                None => socket.local_addr()?,
            };
            sockets.push(MediaSocket { socket, advertised });
        }
        if sockets.is_empty() {
            return Err(std::io::Error::other(format!(
                "media worker {k}: no interface address for media on {any} could be bound"
            )));
        }
        workers.push(sockets);
    }
    let sfu = SfuConfig {
        forward_all_audio_max: config.forward_all_audio_max,
        loudest_audio: config.loudest_audio,
        audio_red: config.audio_red,
        media_grace: config.resume_window,
        echo: EchoConfig {
            record: config.echo_record,
        },
        ..SfuConfig::local(config.media_udp)
    };
    MediaWorkers::start(&sfu, workers)
}

/// Of the machine's `addresses`, those the SFU listens at for the unspecified `any`: its
/// family, loopback included, link-local excluded (it needs a scope a candidate cannot carry),
/// each once.
fn interface_ips(any: IpAddr, addresses: impl Iterator<Item = IpAddr>) -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = addresses
        .filter(|ip| {
            ip.is_ipv4() == any.is_ipv4()
                && match ip {
                    IpAddr::V4(v4) => !v4.is_link_local(),
                    IpAddr::V6(v6) => !v6.is_unicast_link_local(),
                }
        })
        .collect();
    ips.sort();
    ips.dedup();
    ips
}

#[cfg(test)]
mod tests {
    use super::interface_ips;
    use std::net::IpAddr;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|ip| ip.parse().unwrap()).collect()
    }

    #[test]
    fn every_interface_means_each_address_of_the_family_once_but_link_local() {
        let machine = ips(&[
            "127.0.0.1",
            "192.0.2.2",
            "169.254.1.1",
            "::1",
            "fd00::2",
            "fe80::1",
            "192.0.2.2",
            "10.20.0.1",
        ]);
        let v4 = interface_ips("0.0.0.0".parse().unwrap(), machine.iter().copied());
        assert_eq!(v4, ips(&["10.20.0.1", "127.0.0.1", "192.0.2.2"]));
        let v6 = interface_ips("::".parse().unwrap(), machine.iter().copied());
        assert_eq!(v6, ips(&["::1", "fd00::2"]));
        assert!(interface_ips("0.0.0.0".parse().unwrap(), std::iter::empty()).is_empty());
    }

    #[test]
    fn this_machine_has_loopback_among_its_media_addresses() {
        let found = if_addrs::get_if_addrs().unwrap();
        let v4 = interface_ips("0.0.0.0".parse().unwrap(), found.iter().map(|i| i.ip()));
        assert!(v4.contains(&"127.0.0.1".parse().unwrap()), "{v4:?}");
    }
}
