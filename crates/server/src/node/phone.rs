//! The telephone gateway's sockets: SIP over UDP and TCP to the trunks, and for each phone
//! call at once an RTP port (to the trunk) and a WebRTC port (to the SFU). [`Telephony`] owns
//! them and the sans-IO [`Gateway`]: it waits for the next datagram or connection, hands it
//! to the gateway with the time, and sends what the gateway wants sent.

use super::sip_tcp::{accept, SipStreams, StreamInput};
use super::MAX_DATAGRAM;
use crate::phone::config::PhoneConfig;
use crate::phone::{Gateway, MediaPorts, PhoneSocket};
use rtcall_sip::call::Transport;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;

/// SIP datagrams taken at once when one arrives, so a flood does not fill the buffer.
const SIP_BURST: usize = 64;
/// Datagrams from the per-call ports waiting for the node; more are dropped, as the network
/// would drop them.
const PORT_BACKLOG: usize = 4096;

/// A datagram on one of the gateway's per-call ports: the port's index, the source, the bytes.
type PortDatagram = (usize, SocketAddr, Vec<u8>);

/// The telephone gateway and its sockets.
pub struct Telephony {
    /// The gateway.
    pub gateway: Gateway,
    sip: UdpSocket,
    /// RTP, to and from trunks: one port per call.
    rtp: Vec<Arc<UdpSocket>>,
    /// WebRTC, to and from the SFU: one port per call, at its RTP port's index.
    webrtc: Vec<Arc<UdpSocket>>,
    /// SIP over TCP: where TCP trunks connect (on the SIP port), if any trunk is TCP.
    sip_tcp: Option<TcpListener>,
    streams: SipStreams,
    received: mpsc::Receiver<StreamInput>,
    rtp_in: mpsc::Receiver<PortDatagram>,
    webrtc_in: mpsc::Receiver<PortDatagram>,
    sip_buf: Vec<u8>,
}

impl Telephony {
    /// Binds the gateway's sockets for `config` (a port 0 becomes the one the system gives);
    /// `seed` makes its Call-IDs, tags and SSRCs.
    pub async fn bind(config: &PhoneConfig, seed: u64) -> std::io::Result<Telephony> {
        let sip = UdpSocket::bind(config.sip_udp).await?;
        let mut rtp = Vec::with_capacity(usize::from(config.rtp_ports));
        for i in 0..config.rtp_ports {
            let port = match config.rtp_udp.port() {
                0 => 0,
                first => first + i,
            };
            rtp.push(Arc::new(
                UdpSocket::bind(SocketAddr::new(config.rtp_udp.ip(), port)).await?,
            ));
        }
        // Each call's own connection to the SFU, like any client's.
        let mut webrtc = Vec::with_capacity(rtp.len());
        let mut ports = Vec::with_capacity(rtp.len());
        for socket in &rtp {
            let own = UdpSocket::bind(SocketAddr::new(config.rtp_udp.ip(), 0)).await?;
            ports.push(MediaPorts {
                rtp: socket.local_addr()?,
                webrtc: own.local_addr()?,
            });
            webrtc.push(Arc::new(own));
        }
        let mut config = config.clone();
        config.sip_udp = sip.local_addr()?;
        // TCP trunks reach the gateway on the same port number, over TCP.
        let sip_tcp = match config.trunks.iter().any(|t| t.transport == Transport::Tcp) {
            true => Some(TcpListener::bind(config.sip_udp).await?),
            false => None,
        };
        let (streams, received) = SipStreams::new();
        Ok(Telephony {
            gateway: Gateway::new(config, ports, seed),
            rtp_in: listen(&rtp),
            webrtc_in: listen(&webrtc),
            sip,
            rtp,
            webrtc,
            sip_tcp,
            streams,
            received,
            sip_buf: vec![0; rtcall_sip::message::MAX_MESSAGE],
        })
    }

    /// Waits for the next thing to arrive on any of the gateway's sockets and gives it to the
    /// gateway.
    pub async fn receive(&mut self) {
        tokio::select! {
            received = self.sip.recv_from(&mut self.sip_buf) => {
                let Ok((n, source)) = received else { return };
                let now = Instant::now();
                self.gateway.handle_sip(now, source, Transport::Udp, &self.sip_buf[..n]);
                for _ in 0..SIP_BURST {
                    match self.sip.try_recv_from(&mut self.sip_buf) {
                        Ok((n, source)) => self.gateway.handle_sip(now, source, Transport::Udp, &self.sip_buf[..n]),
                        Err(_) => break,
                    }
                }
            }
            accepted = accept(self.sip_tcp.as_ref()) => {
                // Connections from addresses no trunk allows are closed at once.
                if let Ok((stream, peer)) = accepted {
                    if self.gateway.allows(peer.ip()) {
                        self.streams.adopt(stream, peer);
                    }
                }
            }
            input = self.received.recv() => match input {
                Some(StreamInput::Message { peer, bytes }) => {
                    self.gateway.handle_sip(Instant::now(), peer, Transport::Tcp, &bytes);
                }
                Some(StreamInput::Closed { peer }) => self.streams.closed(peer),
                // The streams keep a sender: never.
                None => {}
            },
            Some((port, source, bytes)) = self.rtp_in.recv() => {
                self.gateway.handle_rtp(port, source, &bytes);
            }
            Some((port, source, bytes)) = self.webrtc_in.recv() => {
                self.gateway.handle_webrtc(Instant::now(), port, source, &bytes);
            }
        }
    }

    /// Sends what the gateway has to send, each datagram on its socket. UDP is lossy anyway:
    /// a full socket buffer drops the datagram rather than stalling the node.
    pub fn flush(&mut self) {
        while let Some(transmit) = self.gateway.poll_transmit() {
            let socket = match transmit.socket {
                PhoneSocket::Sip => &self.sip,
                PhoneSocket::Rtp(port) => &self.rtp[port],
                PhoneSocket::WebRtc(port) => &self.webrtc[port],
                PhoneSocket::SipTcp => {
                    self.streams.send(transmit.destination, transmit.contents);
                    continue;
                }
            };
            let _ = socket.try_send_to(&transmit.contents, transmit.destination);
        }
    }
}

/// Reads every port of a set in a task of its own, into one bounded channel for the node.
fn listen(ports: &[Arc<UdpSocket>]) -> mpsc::Receiver<PortDatagram> {
    let (tx, rx) = mpsc::channel(PORT_BACKLOG);
    for (port, socket) in ports.iter().enumerate() {
        let (socket, tx) = (Arc::clone(socket), tx.clone());
        tokio::spawn(async move {
            let mut buf = vec![0u8; MAX_DATAGRAM];
            while let Ok((n, source)) = socket.recv_from(&mut buf).await {
                match tx.try_send((port, source, buf[..n].to_vec())) {
                    Err(mpsc::error::TrySendError::Closed(_)) => return,
                    _ => continue,
                }
            }
        });
    }
    rx
}
