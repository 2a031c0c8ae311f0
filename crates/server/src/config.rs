//! Server settings: command-line flags, each also read from an `RTCALL_*` environment variable
//! and from an optional TOML file (flag or environment wins over the file, the file over the
//! built-in default). With no settings at all the server runs the local demo.

use crate::echo::EchoConfig;
use crate::identity::AccessKey;
use crate::phone::config::{PhoneConfig, TrunkFile};
use crate::signaling::turn::TurnConfig;
use clap::Parser;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `rtcall-server` command line.
#[derive(Debug, Parser)]
#[command(name = "rtcall-server", version, about)]
pub struct Cli {
    /// A TOML file with any of the settings below (keys as the flags, with `_` for `-`).
    #[arg(long, env = "RTCALL_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on for HTTP and WebSocket [default: 127.0.0.1:8080].
    #[arg(long, env = "RTCALL_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// The URL clients reach this service at; tokens name it as their issuer
    /// [default: http://<listen address>/].
    #[arg(long, env = "RTCALL_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Where the SQLite database (identities, revocations, keys) lives [default: ./rtcall-data].
    #[arg(long, env = "RTCALL_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The access key (base64) that signs identity API requests [default: generated once and
    /// kept in the data directory].
    #[arg(long, env = "RTCALL_ACCESS_KEY", hide_env_values = true)]
    pub access_key: Option<String>,
    /// The demo app's static files, served at `/` [default: ./www].
    #[arg(long, env = "RTCALL_WWW_DIR")]
    pub www_dir: Option<PathBuf>,
    /// The built npm package, served at `/pkg/` [default: ./pkg].
    #[arg(long, env = "RTCALL_PKG_DIR")]
    pub pkg_dir: Option<PathBuf>,
    /// Production mode: no demo endpoint, and the connection string is written to a file in the
    /// data directory instead of being printed.
    #[arg(long, env = "RTCALL_PRODUCTION")]
    pub production: bool,
    /// The SFU's first UDP address: media worker k listens k ports above it (port 0: any
    /// free ports). An unspecified address (0.0.0.0, [::]) means every interface address of
    /// that family at start, each its own ICE candidate, unless --media-public is given (then
    /// one socket on all interfaces, advertised at the public address) [default: 0.0.0.0:10000].
    #[arg(long, env = "RTCALL_MEDIA_UDP")]
    pub media_udp: Option<SocketAddr>,
    /// The address clients send media to, if not the UDP address (NAT, load balancer); worker
    /// k is reached k ports above it.
    #[arg(long, env = "RTCALL_MEDIA_PUBLIC")]
    pub media_public: Option<SocketAddr>,
    /// Media worker threads, each with its own UDP port and its share of the calls
    /// [default: the number of cores].
    #[arg(long, env = "RTCALL_MEDIA_WORKERS")]
    pub media_workers: Option<usize>,
    /// Seconds an unanswered call rings, a user or a phone [default: 60].
    #[arg(long, env = "RTCALL_RING_TIMEOUT")]
    pub ring_timeout: Option<u64>,
    /// Milliseconds between client heartbeats; three missed and the endpoint has lost its
    /// socket [default: 3000].
    #[arg(long, env = "RTCALL_HEARTBEAT_MS")]
    pub heartbeat_ms: Option<u64>,
    /// Seconds an endpoint that lost its socket keeps its calls, waiting to resume; its media
    /// waits as long for a lost path to come back [default: 30; 0: it leaves at once; at most
    /// 3600].
    #[arg(long, env = "RTCALL_RESUME_WINDOW")]
    pub resume_window: Option<u64>,
    /// Milliseconds the echo test bot (8:echo123) records before playing back [default: 10000].
    #[arg(long, env = "RTCALL_ECHO_RECORD_MS")]
    pub echo_record_ms: Option<u64>,
    /// Calls up to this size forward everyone's audio [default: 20].
    #[arg(long, env = "RTCALL_FORWARD_ALL_AUDIO_MAX")]
    pub forward_all_audio_max: Option<usize>,
    /// Larger calls forward the audio of this many loudest speakers [default: 3].
    #[arg(long, env = "RTCALL_LOUDEST_AUDIO")]
    pub loudest_audio: Option<usize>,
    /// Offer audio with RED (each packet carries the two before it, so the receiver can fill
    /// losses) [default: true].
    #[arg(long, env = "RTCALL_AUDIO_RED")]
    pub audio_red: Option<bool>,
    /// TURN server URLs handed to clients, comma-separated (`turn:host:3478,turns:host:5349`).
    #[arg(long, env = "RTCALL_TURN_URLS", value_delimiter = ',')]
    pub turn_urls: Vec<String>,
    /// The secret shared with the TURN server (coturn `static-auth-secret`).
    #[arg(long, env = "RTCALL_TURN_SECRET", hide_env_values = true)]
    pub turn_secret: Option<String>,
}

/// The TOML file: the same settings as [`Cli`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    public_url: Option<String>,
    data_dir: Option<PathBuf>,
    access_key: Option<String>,
    www_dir: Option<PathBuf>,
    pkg_dir: Option<PathBuf>,
    production: Option<bool>,
    media_udp: Option<SocketAddr>,
    media_public: Option<SocketAddr>,
    media_workers: Option<usize>,
    ring_timeout: Option<u64>,
    heartbeat_ms: Option<u64>,
    resume_window: Option<u64>,
    echo_record_ms: Option<u64>,
    forward_all_audio_max: Option<usize>,
    loudest_audio: Option<usize>,
    audio_red: Option<bool>,
    #[serde(default)]
    turn_urls: Vec<String>,
    turn_secret: Option<String>,
    /// The telephone gateway's SIP address (with trunks only).
    sip_udp: Option<SocketAddr>,
    /// Where phones' audio arrives (the first port).
    phone_rtp_udp: Option<SocketAddr>,
    /// How many RTP ports, one per phone call.
    phone_rtp_ports: Option<u16>,
    #[serde(default)]
    trunks: Vec<TrunkFile>,
}

/// Complete, validated settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Public URL, ending in `/`; `None` means `http://<bound address>/`, known once bound.
    pub public_url: Option<String>,
    /// Data directory.
    pub data_dir: PathBuf,
    /// A fixed access key, or `None` to use (or create) the one stored in the data directory.
    pub access_key: Option<AccessKey>,
    /// Demo app directory.
    pub www_dir: PathBuf,
    /// npm package directory.
    pub pkg_dir: PathBuf,
    /// Production mode.
    pub production: bool,
    /// The first media worker's UDP address (the k-th is k ports above; port 0: any).
    pub media_udp: SocketAddr,
    /// The address clients send media to, if not `media_udp` (the k-th worker k ports above).
    pub media_public: Option<SocketAddr>,
    /// How many media workers (threads, each with its own UDP port).
    pub media_workers: usize,
    /// How long an unanswered call rings.
    pub ring_timeout: Duration,
    /// Client heartbeat interval.
    pub heartbeat_interval: Duration,
    /// How long a lost endpoint keeps its calls (and a lost media path its connection).
    pub resume_window: Duration,
    /// How long the echo test bot records.
    pub echo_record: Duration,
    /// Calls up to this size forward everyone's audio.
    pub forward_all_audio_max: usize,
    /// Larger calls forward this many loudest speakers.
    pub loudest_audio: usize,
    /// Audio is offered with RED.
    pub audio_red: bool,
    /// TURN servers for clients behind NAT.
    pub turn: Option<TurnConfig>,
    /// The telephone gateway, if trunks are configured.
    pub phone: Option<PhoneConfig>,
}

/// A setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The TOML file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML file is not valid.
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A setting has a bad value.
    #[error("invalid setting {name}: {message}")]
    Invalid {
        /// The setting.
        name: &'static str,
        /// Why.
        message: String,
    },
}

impl Config {
    /// Settings for the local demo, rooted at `data_dir`: every other setting at its default.
    pub fn local(data_dir: impl Into<PathBuf>) -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            data_dir: data_dir.into(),
            access_key: None,
            www_dir: PathBuf::from("www"),
            pkg_dir: PathBuf::from("pkg"),
            production: false,
            media_udp: SocketAddr::from(([0, 0, 0, 0], 10000)),
            media_public: None,
            media_workers: std::thread::available_parallelism().map_or(1, usize::from),
            ring_timeout: Duration::from_secs(60),
            heartbeat_interval: Duration::from_millis(3000),
            resume_window: Duration::from_secs(30),
            echo_record: EchoConfig::default().record,
            forward_all_audio_max: 20,
            loudest_audio: 3,
            audio_red: true,
            turn: None,
            phone: None,
        }
    }

    /// Merges flags and environment (already in `cli`) over the TOML file over the defaults.
    pub fn from_cli(cli: Cli) -> Result<Self, ConfigError> {
        let file = match &cli.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let defaults = Config::local("rtcall-data");
        let public_url = cli
            .public_url
            .or(file.public_url)
            .map(normalize_public_url)
            .transpose()?;
        let access_key = cli
            .access_key
            .or(file.access_key)
            .map(|key| {
                AccessKey::from_base64(&key).map_err(|message| ConfigError::Invalid {
                    name: "access-key",
                    message,
                })
            })
            .transpose()?;
        let ring_timeout = cli
            .ring_timeout
            .or(file.ring_timeout)
            .map_or(defaults.ring_timeout, Duration::from_secs);
        let media_udp = cli
            .media_udp
            .or(file.media_udp)
            .unwrap_or(defaults.media_udp);
        let media_public = cli.media_public.or(file.media_public);
        let media_workers = media_workers(cli.media_workers.or(file.media_workers))?
            .unwrap_or(defaults.media_workers);
        if media_public.is_some() && media_udp.port() == 0 && media_workers > 1 {
            return Err(ConfigError::Invalid {
                name: "media-public",
                message: "with more than one media worker, --media-udp needs a fixed first port \
                          (worker k is reached k ports above --media-public)"
                    .into(),
            });
        }
        Ok(Config {
            listen: cli.listen.or(file.listen).unwrap_or(defaults.listen),
            public_url,
            data_dir: cli.data_dir.or(file.data_dir).unwrap_or(defaults.data_dir),
            access_key,
            www_dir: cli.www_dir.or(file.www_dir).unwrap_or(defaults.www_dir),
            pkg_dir: cli.pkg_dir.or(file.pkg_dir).unwrap_or(defaults.pkg_dir),
            production: cli.production || file.production.unwrap_or(false),
            media_udp,
            media_public,
            media_workers,
            ring_timeout,
            heartbeat_interval: cli
                .heartbeat_ms
                .or(file.heartbeat_ms)
                .map_or(defaults.heartbeat_interval, Duration::from_millis),
            // At most an hour: it is added to instants and sent to clients in milliseconds.
            resume_window: cli
                .resume_window
                .or(file.resume_window)
                .map_or(defaults.resume_window, |secs| {
                    Duration::from_secs(secs.min(3600))
                }),
            echo_record: cli
                .echo_record_ms
                .or(file.echo_record_ms)
                .map_or(defaults.echo_record, Duration::from_millis),
            forward_all_audio_max: cli
                .forward_all_audio_max
                .or(file.forward_all_audio_max)
                .unwrap_or(defaults.forward_all_audio_max),
            loudest_audio: cli
                .loudest_audio
                .or(file.loudest_audio)
                .unwrap_or(defaults.loudest_audio),
            audio_red: cli
                .audio_red
                .or(file.audio_red)
                .unwrap_or(defaults.audio_red),
            turn: turn_config(
                if cli.turn_urls.is_empty() {
                    file.turn_urls
                } else {
                    cli.turn_urls
                },
                cli.turn_secret.or(file.turn_secret),
            )?,
            phone: phone_config(
                (file.sip_udp, file.phone_rtp_udp, file.phone_rtp_ports),
                ring_timeout,
                file.trunks,
            )?,
        })
    }
}

/// 1 to 256 media workers: a thread and a UDP port each.
fn media_workers(workers: Option<usize>) -> Result<Option<usize>, ConfigError> {
    match workers {
        Some(0) | Some(257..) => Err(ConfigError::Invalid {
            name: "media-workers",
            message: "must be from 1 to 256".into(),
        }),
        workers => Ok(workers),
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// Telephony is on with at least one trunk; its addresses default to 127.0.0.1:5070 (SIP) and
/// 100 RTP ports from 127.0.0.1:5072. Phones ring as long as users do (`ring_timeout`).
fn phone_config(
    (sip_udp, rtp_udp, rtp_ports): (Option<SocketAddr>, Option<SocketAddr>, Option<u16>),
    ring_timeout: Duration,
    trunks: Vec<TrunkFile>,
) -> Result<Option<PhoneConfig>, ConfigError> {
    if trunks.is_empty() {
        return Ok(None);
    }
    crate::phone::config::validate(
        (
            sip_udp.unwrap_or(SocketAddr::from(([127, 0, 0, 1], 5070))),
            rtp_udp.unwrap_or(SocketAddr::from(([127, 0, 0, 1], 5072))),
            rtp_ports.unwrap_or(100),
        ),
        ring_timeout,
        trunks,
    )
    .map(Some)
    .map_err(|message| ConfigError::Invalid {
        name: "trunks",
        message,
    })
}

/// TURN needs both URLs and the shared secret, or neither.
fn turn_config(
    urls: Vec<String>,
    secret: Option<String>,
) -> Result<Option<TurnConfig>, ConfigError> {
    match (urls.is_empty(), secret) {
        (true, None) => Ok(None),
        (false, Some(secret)) if !secret.is_empty() => Ok(Some(TurnConfig {
            urls,
            secret,
            ttl: Duration::from_secs(24 * 60 * 60),
        })),
        _ => Err(ConfigError::Invalid {
            name: "turn-urls",
            message: "TURN needs both --turn-urls and --turn-secret".into(),
        }),
    }
}

/// Public URLs are `http(s)://host[:port][/path]/`, always ending in `/` so paths join simply.
fn normalize_public_url(url: String) -> Result<String, ConfigError> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ConfigError::Invalid {
            name: "public-url",
            message: "must start with http:// or https://".into(),
        });
    }
    Ok(if url.ends_with('/') {
        url
    } else {
        format!("{url}/")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("rtcall-server").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rtcall.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\npublic_url = \"https://call.example\"\nproduction = true\n",
        )
        .unwrap();
        let config = Config::from_cli(cli(&[
            "--config",
            file.to_str().unwrap(),
            "--listen",
            "127.0.0.1:9001",
        ]))
        .unwrap();
        assert_eq!(config.listen, "127.0.0.1:9001".parse().unwrap());
        assert_eq!(config.public_url.as_deref(), Some("https://call.example/"));
        assert!(config.production);
        assert_eq!(config.www_dir, PathBuf::from("www"));
    }

    #[test]
    fn bad_settings_are_named() {
        let err = Config::from_cli(cli(&["--public-url", "ftp://x"])).unwrap_err();
        assert!(err.to_string().contains("public-url"), "{err}");
        let err = Config::from_cli(cli(&["--access-key", "not base64!"])).unwrap_err();
        assert!(err.to_string().contains("access-key"), "{err}");
        let err = Config::from_cli(cli(&["--media-workers", "0"])).unwrap_err();
        assert!(err.to_string().contains("media-workers"), "{err}");
        let public = [
            "--media-public",
            "203.0.113.7:10000",
            "--media-udp",
            "0.0.0.0:0",
        ];
        let err =
            Config::from_cli(cli(&[&public[..], &["--media-workers", "2"]].concat())).unwrap_err();
        assert!(err.to_string().contains("media-public"), "{err}");
        assert!(Config::from_cli(cli(&[&public[..], &["--media-workers", "1"]].concat())).is_ok());
        let err = Config::from_cli(cli(&["--turn-urls", "turn:127.0.0.1:3478"])).unwrap_err();
        assert!(err.to_string().contains("turn-secret"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "colour = \"blue\"\n").unwrap();
        let err = Config::from_cli(cli(&["--config", file.to_str().unwrap()])).unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
    }
}
