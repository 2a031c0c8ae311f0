//! The node loop: the shell around the call hub and the SFU. One task owns both state machines,
//! the media UDP socket and the one timer; WebSocket sessions talk to it through a channel
//! ([`NodeHandle`]) and get their outgoing frames on their own bounded channel.
//!
//! Each turn: take one input (a datagram, a session message, or the timer), then pump: hub
//! outputs go to sessions (serialized once per frame, whatever the number of recipients), to
//! the SFU or to the telephone gateway; SFU and gateway events go to the hub; datagrams go out
//! on their sockets; until all are idle.

use crate::phone::tcp::{accept, SipStreams, StreamInput};
use crate::phone::{Gateway, PhoneSocket};
use crate::sfu::Sfu;
use crate::signaling::hub::{EndpointId, Hub, HubOutput, MediaCommand};
use rtcall_protocol::signal::{Reply, Request, RequestId, ServerFrame};
use rtcall_sip::call::Transport;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// Frames waiting for one slow endpoint before it is dropped.
pub const OUTBOX_CAPACITY: usize = 1024;

/// A serialized frame on its way to an endpoint's WebSocket.
pub type OutgoingFrame = Arc<str>;

/// What sessions tell the node.
#[derive(Debug)]
pub enum NodeInput {
    /// An endpoint authenticated.
    Connect {
        /// Its id.
        endpoint: EndpointId,
        /// Its identity's raw id.
        identity: String,
        /// Its display name.
        display_name: String,
        /// Where its outgoing frames go.
        outbox: mpsc::Sender<OutgoingFrame>,
    },
    /// An endpoint's WebSocket closed or went silent.
    Disconnect {
        /// Which.
        endpoint: EndpointId,
    },
    /// A request.
    Request {
        /// From whom.
        endpoint: EndpointId,
        /// Its id.
        id: RequestId,
        /// What.
        request: Request,
    },
}

/// A cheap handle for sending the node inputs.
#[derive(Debug, Clone)]
pub struct NodeHandle {
    tx: mpsc::UnboundedSender<NodeInput>,
}

impl NodeHandle {
    /// Sends an input; `false` if the node has stopped.
    pub fn send(&self, input: NodeInput) -> bool {
        self.tx.send(input).is_ok()
    }
}

/// The telephone gateway and its sockets.
pub struct Telephony {
    /// The gateway.
    pub gateway: Gateway,
    /// SIP, to and from trunks.
    pub sip: UdpSocket,
    /// RTP, to and from trunks: one port per call.
    pub rtp: Vec<Arc<UdpSocket>>,
    /// WebRTC, to and from the SFU: one port per call, at its RTP port's index.
    pub webrtc: Vec<Arc<UdpSocket>>,
    /// SIP over TCP: where TCP trunks connect (on the SIP port), if any trunk is TCP.
    pub sip_tcp: Option<tokio::net::TcpListener>,
    /// SIP over TCP: the connections.
    pub streams: SipStreams,
}

/// The node: hub, SFU, socket, telephone gateway and sessions' outboxes.
pub struct Node {
    hub: Hub,
    sfu: Sfu,
    socket: UdpSocket,
    phone: Option<Telephony>,
    /// What the SIP connections receive (apart from `phone` so the loop can borrow both).
    sip_streams: Option<mpsc::UnboundedReceiver<StreamInput>>,
    /// What the RTP and WebRTC ports receive: (port index, source, datagram).
    rtp_in: Option<mpsc::Receiver<PortDatagram>>,
    webrtc_in: Option<mpsc::Receiver<PortDatagram>>,
    local: std::net::SocketAddr,
    outboxes: HashMap<EndpointId, mpsc::Sender<OutgoingFrame>>,
    rx: mpsc::UnboundedReceiver<NodeInput>,
}

impl Node {
    /// A node over `hub`, `sfu`, the bound media `socket` and a telephone gateway if there
    /// are trunks, and the handle that feeds it.
    pub fn new(
        hub: Hub,
        sfu: Sfu,
        socket: UdpSocket,
        phone: Option<(Telephony, mpsc::UnboundedReceiver<StreamInput>)>,
    ) -> std::io::Result<(Node, NodeHandle)> {
        let (phone, sip_streams) = phone.unzip();
        let rtp_in = phone.as_ref().map(|p| listen(&p.rtp));
        let webrtc_in = phone.as_ref().map(|p| listen(&p.webrtc));
        let (tx, rx) = mpsc::unbounded_channel();
        let local = socket.local_addr()?;
        Ok((
            Node {
                hub,
                sfu,
                socket,
                phone,
                sip_streams,
                rtp_in,
                webrtc_in,
                local,
                outboxes: HashMap::new(),
                rx,
            },
            NodeHandle { tx },
        ))
    }

    /// Runs until every [`NodeHandle`] is dropped.
    pub async fn run(mut self) {
        let mut buf = vec![0u8; 2048];
        let mut sip_buf = vec![0u8; rtcall_sip::message::MAX_MESSAGE];
        loop {
            let phone_timeout = self.phone.as_ref().and_then(|p| p.gateway.poll_timeout());
            let deadline = [
                self.hub.poll_timeout(),
                self.sfu.poll_timeout(),
                phone_timeout,
            ]
            .into_iter()
            .flatten()
            .min();
            // Far enough to mean "never", near enough for tokio's timer.
            let deadline = deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                received = self.socket.recv_from(&mut buf) => {
                    let now = Instant::now();
                    match received {
                        Ok((n, source)) => {
                            self.sfu.handle_receive(now, source, self.local, &buf[..n]);
                            // Take whatever else already waits, without sleeping.
                            for _ in 0..64 {
                                match self.socket.try_recv_from(&mut buf) {
                                    Ok((n, source)) => self.sfu.handle_receive(now, source, self.local, &buf[..n]),
                                    Err(_) => break,
                                }
                            }
                        }
                        Err(e) => tracing::debug!(error = %e, "media socket receive failed"),
                    }
                }
                received = receive(self.phone.as_ref().map(|p| &p.sip), &mut sip_buf) => {
                    if let (Ok((n, source)), Some(phone)) = (received, &mut self.phone) {
                        let now = Instant::now();
                        phone.gateway.handle_sip(now, source, Transport::Udp, &sip_buf[..n]);
                        // Take whatever else already waits, so a flood does not fill the buffer.
                        for _ in 0..64 {
                            match phone.sip.try_recv_from(&mut sip_buf) {
                                Ok((n, source)) => phone.gateway.handle_sip(now, source, Transport::Udp, &sip_buf[..n]),
                                Err(_) => break,
                            }
                        }
                    }
                }
                accepted = accept(self.phone.as_ref().and_then(|p| p.sip_tcp.as_ref())) => {
                    if let (Ok((stream, peer)), Some(phone)) = (accepted, &mut self.phone) {
                        // Connections from addresses no trunk allows are closed at once.
                        if phone.gateway.allows(peer.ip()) {
                            phone.streams.adopt(stream, peer);
                        }
                    }
                }
                input = stream_input(self.sip_streams.as_mut()) => {
                    if let Some(phone) = &mut self.phone {
                        match input {
                            Some(StreamInput::Message { peer, bytes }) => {
                                phone.gateway.handle_sip(Instant::now(), peer, Transport::Tcp, &bytes);
                            }
                            Some(StreamInput::Closed { peer }) => phone.streams.closed(peer),
                            None => {}
                        }
                    }
                }
                datagram = port_input(self.rtp_in.as_mut()) => {
                    if let (Some((port, source, bytes)), Some(phone)) = (datagram, &mut self.phone) {
                        phone.gateway.handle_rtp(port, source, &bytes);
                    }
                }
                datagram = port_input(self.webrtc_in.as_mut()) => {
                    if let (Some((port, source, bytes)), Some(phone)) = (datagram, &mut self.phone) {
                        phone.gateway.handle_webrtc(Instant::now(), port, source, &bytes);
                    }
                }
                input = self.rx.recv() => {
                    let Some(input) = input else { break };
                    self.handle_input(Instant::now(), input);
                }
                _ = tokio::time::sleep_until(deadline.into()) => {
                    let now = Instant::now();
                    self.hub.handle_timeout(now);
                    self.sfu.handle_timeout(now);
                    if let Some(phone) = &mut self.phone {
                        phone.gateway.handle_timeout(now);
                    }
                }
            }
            self.pump(Instant::now());
        }
    }

    fn handle_input(&mut self, now: Instant, input: NodeInput) {
        match input {
            NodeInput::Connect {
                endpoint,
                identity,
                display_name,
                outbox,
            } => {
                self.outboxes.insert(endpoint, outbox);
                self.hub
                    .handle_connect(now, endpoint, identity, display_name);
            }
            NodeInput::Disconnect { endpoint } => {
                if self.outboxes.remove(&endpoint).is_some() {
                    self.hub.handle_disconnect(now, endpoint);
                }
            }
            NodeInput::Request {
                endpoint,
                id,
                request,
            } => self.hub.handle_request(now, endpoint, id, request),
        }
    }

    /// Moves outputs between the hub, the SFU, the sessions and the socket until all are idle.
    fn pump(&mut self, now: Instant) {
        loop {
            let mut idle = true;
            while let Some(output) = self.hub.poll_output() {
                idle = false;
                match output {
                    HubOutput::Send { to, frame } => self.deliver(now, &to, &frame),
                    HubOutput::Media(MediaCommand::Answer {
                        leg,
                        version,
                        sdp,
                        reply,
                    }) => {
                        let outcome = self.sfu.handle_command(
                            now,
                            MediaCommand::Answer {
                                leg,
                                version,
                                sdp,
                                reply,
                            },
                        );
                        let Some(reply) = reply else {
                            // The gateway's own answer: nobody to reply to.
                            if let Err(e) = outcome {
                                tracing::warn!(error = %e.message, "a phone's media answer failed");
                            }
                            continue;
                        };
                        let frame = match outcome {
                            Ok(()) => ServerFrame::reply(reply.request, Reply::Done),
                            Err(e) => ServerFrame::error(reply.request, e),
                        };
                        self.deliver(now, &[reply.endpoint], &frame);
                    }
                    HubOutput::Media(command) => {
                        // Only answers can fail, and they are handled above.
                        let _ = self.sfu.handle_command(now, command);
                    }
                    HubOutput::Phone(command) => {
                        if let Some(phone) = &mut self.phone {
                            phone.gateway.handle_command(now, command);
                        }
                    }
                }
            }
            if let Some(phone) = &mut self.phone {
                while let Some(event) = phone.gateway.poll_event() {
                    idle = false;
                    self.hub.handle_phone(now, event);
                }
                while let Some(transmit) = phone.gateway.poll_transmit() {
                    let socket = match transmit.socket {
                        PhoneSocket::Sip => &phone.sip,
                        PhoneSocket::Rtp(port) => &phone.rtp[port],
                        PhoneSocket::WebRtc(port) => &phone.webrtc[port],
                        PhoneSocket::SipTcp => {
                            phone.streams.send(transmit.destination, transmit.contents);
                            continue;
                        }
                    };
                    let _ = socket.try_send_to(&transmit.contents, transmit.destination);
                }
            }
            while let Some(event) = self.sfu.poll_event() {
                idle = false;
                self.hub.handle_media(now, event);
            }
            while let Some(transmit) = self.sfu.poll_transmit() {
                // UDP is lossy anyway: a full socket buffer drops the datagram, as the network
                // would, rather than stalling every call on this node.
                let _ = self
                    .socket
                    .try_send_to(&transmit.contents, transmit.destination);
            }
            if idle {
                break;
            }
        }
    }

    /// Serializes a frame once and queues it for each endpoint; an endpoint whose queue is full
    /// is too slow to keep up and is disconnected.
    fn deliver(&mut self, now: Instant, to: &[EndpointId], frame: &ServerFrame) {
        let text: OutgoingFrame = match serde_json::to_string(frame) {
            Ok(text) => text.into(),
            Err(e) => {
                tracing::error!(error = %e, "cannot serialize a frame");
                return;
            }
        };
        for endpoint in to {
            let Some(outbox) = self.outboxes.get(endpoint) else {
                continue;
            };
            if outbox.try_send(Arc::clone(&text)).is_err() {
                tracing::warn!(endpoint, "endpoint too slow or gone; disconnecting it");
                self.outboxes.remove(endpoint);
                self.hub.handle_disconnect(now, *endpoint);
            }
        }
    }
}

/// The next datagram on one of the gateway's sockets; never, without a gateway.
async fn receive(
    socket: Option<&UdpSocket>,
    buf: &mut [u8],
) -> std::io::Result<(usize, std::net::SocketAddr)> {
    match socket {
        Some(socket) => socket.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

/// The next input from the SIP connections; never, without a gateway.
async fn stream_input(
    rx: Option<&mut mpsc::UnboundedReceiver<StreamInput>>,
) -> Option<StreamInput> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// A datagram on one of the gateway's per-call ports: the port's index, the source, the bytes.
type PortDatagram = (usize, std::net::SocketAddr, Vec<u8>);

/// Reads every port of a set in a task of its own, into one channel for the node. Bounded:
/// when the node falls behind, datagrams are dropped as the network would.
fn listen(ports: &[Arc<UdpSocket>]) -> mpsc::Receiver<PortDatagram> {
    let (tx, rx) = mpsc::channel(4096);
    for (port, socket) in ports.iter().enumerate() {
        let (socket, tx) = (Arc::clone(socket), tx.clone());
        tokio::spawn(async move {
            let mut buf = [0u8; 2048];
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

/// The next datagram from a set of ports; never, without a gateway.
async fn port_input(rx: Option<&mut mpsc::Receiver<PortDatagram>>) -> Option<PortDatagram> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
