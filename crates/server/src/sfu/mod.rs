//! The SFU: every call's media goes through here. One str0m `Rtc` per participant, all on the
//! SFU's UDP sockets (ICE-lite; one socket per address clients reach it at, each a host
//! candidate; the node runs an SFU per media worker, each with its own sockets and calls),
//! negotiated by server-sent offers. A sans-IO state machine like str0m itself: datagrams,
//! [`MediaCommand`]s and time go in; datagrams, [`MediaEvent`]s and the next timeout come out. It knows the hub only through [`crate::contract`].
//!
//! ```no_run
//! # use rtcall_server::sfu::{Sfu, SfuConfig};
//! # use std::time::Instant;
//! let mut sfu = Sfu::new(SfuConfig::local("127.0.0.1:0".parse().unwrap())).unwrap();
//! loop {
//!     // sfu.handle_receive(now, source, destination, &datagram) for each datagram,
//!     // sfu.handle_command(now, command) for each hub command,
//!     // sfu.handle_timeout(now) when poll_timeout() is due; then drain:
//!     while let Some(transmit) = sfu.poll_transmit() { /* send it */ }
//!     while let Some(event) = sfu.poll_event() { /* give it to the hub */ }
//!     # break;
//! }
//! ```
//!
//! Here live the inputs, the outputs and the driving of each connection's `Rtc`;
//! `registry` knows who is connected and routes datagrams, `negotiation` the lines and offers,
//! `router` forwards media, `slots` ranks speakers and fills the loudest-speaker slots, `data`
//! carries data channel messages, `echo` runs the echo test bot.

mod data;
mod echo;
mod lines;
mod negotiation;
mod peer;
mod registry;
mod router;
mod slots;
pub mod speakers;

use crate::contract::{LegKey, MediaCommand, MediaEvent};
use crate::echo::EchoConfig;
use peer::Peer;
use registry::{CallMedia, Demux};
use rtcall_protocol::call::CallId;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use str0m::bwe::{Bitrate, BweKind};
use str0m::crypto::dtls::DtlsCert;
use str0m::media::Rid;
use str0m::net::{Protocol, Receive, Transmit};
use str0m::{Event, IceConnectionState, Input, Output};

/// A peer's id inside the SFU. Never reused, so a stale id finds nothing.
pub type PeerId = u64;

/// Nothing from a client for this long means it was unreachable (a connected browser sends
/// audio or RTCP reports far more often).
const REACHABLE_GAP: Duration = Duration::from_millis(700);

/// SFU settings.
#[derive(Debug, Clone)]
pub struct SfuConfig {
    /// Its UDP sockets and the address clients reach each at: one ICE host candidate each.
    pub addresses: Vec<MediaAddress>,
    /// Calls up to this size forward everyone's audio to everyone.
    pub forward_all_audio_max: usize,
    /// Larger calls forward this many loudest speakers.
    pub loudest_audio: usize,
    /// A connection not up after this long fails.
    pub connect_timeout: Duration,
    /// A connection whose path was lost (no ICE checks for str0m's 15 s) fails if it is not
    /// back this long after.
    pub media_grace: Duration,
    /// Ask publishers for simulcast camera video.
    pub simulcast: bool,
    /// Offer audio with RED.
    pub audio_red: bool,
    /// The echo test bot's timing.
    pub echo: EchoConfig,
}

impl SfuConfig {
    /// Defaults for one socket at `udp`, reached at that address.
    pub fn local(udp: SocketAddr) -> Self {
        SfuConfig {
            addresses: vec![MediaAddress::own(udp)],
            forward_all_audio_max: 20,
            loudest_audio: 3,
            connect_timeout: Duration::from_secs(20),
            media_grace: Duration::from_secs(30),
            simulcast: true,
            audio_red: true,
            echo: EchoConfig::default(),
        }
    }
}

/// One UDP socket of the SFU and the address its ICE candidate names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MediaAddress {
    /// The socket's own address (unspecified for a socket on every interface).
    pub socket: SocketAddr,
    /// Where clients send to it: the socket's own address, or the public one that a NAT or a
    /// load balancer maps to it.
    pub advertised: SocketAddr,
}

impl MediaAddress {
    /// A socket reached at its own address.
    pub fn own(socket: SocketAddr) -> Self {
        MediaAddress {
            socket,
            advertised: socket,
        }
    }
}

/// Timeouts already due handled at once while driving a peer: past these it waits on the timer
/// heap like the others, so one peer's burst cannot hold up the rest for long.
const INLINE_TIMEOUTS: u32 = 64;

/// Whether a peer's time is up: not connected within the connect timeout, or its path lost for
/// longer than the grace.
fn expired(config: &SfuConfig, peer: &Peer, now: Instant) -> bool {
    let never_up =
        !peer.connected && now.saturating_duration_since(peer.created) > config.connect_timeout;
    let lost = peer
        .interrupted
        .is_some_and(|at| now.saturating_duration_since(at) > config.media_grace);
    never_up || lost
}

/// The SFU. See the module docs.
pub struct Sfu {
    config: SfuConfig,
    cert: DtlsCert,
    peers: HashMap<PeerId, Peer>,
    by_leg: HashMap<LegKey, PeerId>,
    demux: Demux,
    calls: HashMap<u64, CallMedia>,
    call_ids: HashMap<CallId, u64>,
    next_id: u64,
    timers: BinaryHeap<Reverse<(Instant, PeerId)>>,
    next_tick: Option<Instant>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<MediaEvent>,
    /// Peers written to since they were last polled.
    dirty: Vec<PeerId>,
    /// Echo test bots, by their caller.
    echo_bots: HashMap<PeerId, echo::EchoBot>,
}

impl std::fmt::Debug for Sfu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sfu")
            .field("peers", &self.peers.len())
            .field("calls", &self.calls.len())
            .finish()
    }
}

/// The SFU could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot create the DTLS certificate: {0}")]
pub struct SfuError(String);

impl Sfu {
    /// An SFU with no calls. Generates the DTLS certificate all its connections share.
    pub fn new(config: SfuConfig) -> Result<Self, SfuError> {
        let provider = str0m::crypto::from_feature_flags();
        let cert = provider
            .dtls_provider
            .generate_certificate()
            .ok_or_else(|| SfuError("the crypto provider made no certificate".into()))?;
        provider.install_process_default();
        Ok(Sfu {
            config,
            cert,
            peers: HashMap::new(),
            by_leg: HashMap::new(),
            demux: Demux::default(),
            calls: HashMap::new(),
            call_ids: HashMap::new(),
            next_id: 1,
            timers: BinaryHeap::new(),
            next_tick: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            dirty: Vec::new(),
            echo_bots: HashMap::new(),
        })
    }

    /// Number of media connections.
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// The next datagram to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event for the hub.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    /// When [`Sfu::handle_timeout`] must next be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let peer = self.timers.peek().map(|Reverse((at, _))| *at);
        [peer, self.next_tick, self.echo_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    /// A command from the hub.
    pub fn handle_command(&mut self, now: Instant, command: MediaCommand) {
        match command {
            MediaCommand::Open { leg } => self.open(now, leg),
            MediaCommand::OpenEcho { leg, caller } => self.open_echo(now, leg, caller),
            MediaCommand::Close { leg } => self.close(&leg),
            MediaCommand::Answer {
                leg,
                version,
                sdp,
                reply,
            } => self.answer(now, leg, version, &sdp, reply),
            MediaCommand::Hold { leg, hold } => {
                if let Some((_, peer)) = self.peer_of_mut(&leg) {
                    peer.hold = hold;
                }
            }
            MediaCommand::Subscribe {
                leg,
                source,
                video,
                stream_id,
                max_height,
            } => self.subscribe(now, &leg, source, video, stream_id, max_height),
            MediaCommand::Unsubscribe { leg, stream_id } => self.unsubscribe(now, &leg, stream_id),
            MediaCommand::RestartIce { leg } => self.restart_ice(now, &leg),
            MediaCommand::OpenData { leg } => self.open_data(now, &leg),
        }
    }

    /// A datagram arrived at one of the SFU's sockets (`destination`: that socket's address).
    pub fn handle_receive(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        datagram: &[u8],
    ) {
        let Some(id) = self.demux.route(source, datagram) else {
            return;
        };
        let Ok(contents) = datagram.try_into() else {
            return;
        };
        // Behind a NAT or a relay the datagram arrived at the socket's own address, but str0m
        // knows the socket by the candidate it was given: the advertised address.
        let destination = self
            .config
            .addresses
            .iter()
            .find(|a| a.socket == destination)
            .map_or(destination, |a| a.advertised);
        let input = Input::Receive(
            now,
            Receive {
                proto: Protocol::Udp,
                source,
                destination,
                contents,
            },
        );
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        // A client that sends audio, or at least reports, every second was unreachable: what
        // it was sent meanwhile is lost, so its videos need keyframes now, not when its
        // decoder gives up waiting for retransmissions.
        let back = peer
            .last_heard
            .replace(now)
            .is_some_and(|at| now.saturating_duration_since(at) >= REACHABLE_GAP);
        if let Err(e) = peer.rtc.handle_input(input) {
            tracing::debug!(participant = ?peer.leg, error = %e, "media input rejected");
        }
        if back {
            self.refresh_views(now, id);
        }
        self.drive(now, id);
        self.drive_dirty(now);
    }

    /// Asks the sources of every video a subscriber receives for a keyframe of its layer.
    fn refresh_views(&mut self, now: Instant, id: PeerId) {
        let Some(peer) = self.peers.get(&id) else {
            return;
        };
        let wanted: Vec<_> = peer
            .video_out
            .iter()
            .filter(|l| l.state.open_mid().is_some())
            .map(|l| (l.source, l.video, l.layer))
            .collect();
        for (source, video, layer) in wanted {
            self.request_keyframe(now, source, video, layer, true);
        }
    }

    /// Time passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((at, id))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(peer) = self.peers.get_mut(&id) else {
                continue;
            };
            if peer.timeout != Some(at) {
                continue; // superseded
            }
            peer.timeout = None;
            if expired(&self.config, peer, now) {
                self.fail(id);
                continue;
            }
            if let Err(e) = peer.rtc.handle_input(Input::Timeout(now)) {
                tracing::debug!(error = %e, "media timeout handling failed");
            }
            self.drive(now, id);
        }
        if self.next_tick.is_some_and(|t| t <= now) {
            self.tick(now);
            self.next_tick = (!self.calls.is_empty()).then_some(now + slots::TICK);
        }
        self.drive_echo(now);
        self.drive_dirty(now);
    }

    // ---- driving str0m ----

    /// Polls a peer's `Rtc` until it wants time, handling what comes out.
    fn drive(&mut self, now: Instant, id: PeerId) {
        let mut events = Vec::new();
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        // Its due timeouts are handled below, not through the timer heap: check here that its
        // time is not up.
        if expired(&self.config, peer, now) {
            self.fail(id);
            return;
        }
        let mut inline = 0;
        let failed = loop {
            match peer.rtc.poll_output() {
                Ok(Output::Transmit(t)) => self.transmits.push_back(t),
                Ok(Output::Event(e)) => events.push(e),
                // str0m packetizes what was written, and its pacer lets each packet go, only in
                // a timeout: one due now is handled here, not through the timer heap and another
                // turn of the worker's loop for every packet.
                Ok(Output::Timeout(at)) if at <= now && inline < INLINE_TIMEOUTS => {
                    inline += 1;
                    if let Err(e) = peer.rtc.handle_input(Input::Timeout(now)) {
                        tracing::debug!(error = %e, "media timeout handling failed");
                    }
                }
                Ok(Output::Timeout(at)) => {
                    if peer.timeout != Some(at) {
                        peer.timeout = Some(at);
                        self.timers.push(Reverse((at, id)));
                    }
                    break false;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "media connection failed");
                    break true;
                }
            }
        };
        if failed || !peer.rtc.is_alive() {
            self.fail(id);
            return;
        }
        for event in events {
            self.handle_event(now, id, event);
        }
    }

    /// Drives every peer written to since it was last driven.
    fn drive_dirty(&mut self, now: Instant) {
        while let Some(id) = self.dirty.pop() {
            self.drive(now, id);
        }
    }

    /// A connection failed: the hub hears it, and it is closed.
    fn fail(&mut self, id: PeerId) {
        if let Some(peer) = self.peers.get(&id) {
            let leg = peer.leg.clone();
            self.events
                .push_back(MediaEvent::Failed { leg: leg.clone() });
            self.close(&leg);
        }
    }

    /// A connected peer's path was lost: the hub hears it, and an ICE restart is offered (a
    /// client whose network changed answers it with its new addresses). It fails if not back
    /// within the grace.
    fn interrupt(&mut self, now: Instant, id: PeerId) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        if !peer.connected || peer.interrupted.is_some() {
            return;
        }
        peer.interrupted = Some(now);
        self.events.push_back(MediaEvent::Interrupted {
            leg: peer.leg.clone(),
        });
        peer.restart_ice = true;
        self.negotiate(id);
    }

    /// The client asks for an ICE restart: offered now, or after the outstanding offer.
    fn restart_ice(&mut self, now: Instant, leg: &LegKey) {
        let Some((id, peer)) = self.peer_of_mut(leg) else {
            return;
        };
        peer.restart_ice = true;
        self.negotiate(id);
        self.drive_dirty(now);
    }

    fn handle_event(&mut self, now: Instant, id: PeerId, event: Event) {
        match event {
            Event::Connected => {
                if let Some(peer) = self.peers.get_mut(&id) {
                    peer.connected = true;
                    self.events.push_back(MediaEvent::Connected {
                        leg: peer.leg.clone(),
                    });
                }
                if self.echo_bots.contains_key(&id) {
                    self.drive_echo(now);
                }
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                self.interrupt(now, id);
            }
            Event::IceConnectionStateChange(
                IceConnectionState::Connected | IceConnectionState::Completed,
            ) => {
                if let Some(peer) = self.peers.get_mut(&id) {
                    if peer.interrupted.take().is_some() {
                        self.events.push_back(MediaEvent::Restored {
                            leg: peer.leg.clone(),
                        });
                    }
                }
            }
            Event::MediaData(data) => self.forward(now, id, data),
            Event::ChannelOpen(channel, _) => self.data_channel_state(id, channel, true),
            Event::ChannelClose(channel) => self.data_channel_state(id, channel, false),
            Event::ChannelData(message) => {
                self.forward_data(id, message);
                self.drive_dirty(now);
            }
            Event::EgressBitrateEstimate(BweKind::Twcc { estimate, .. }) => {
                let Some(peer) = self.peers.get_mut(&id) else {
                    return;
                };
                peer.link.egress = Some(estimate.as_u64());
                // The estimate, less a tenth for audio, shared among its videos; probing
                // toward what its views want while keeping up what it gets.
                let mut open: Vec<&mut lines::VideoOut> = peer
                    .video_out
                    .iter_mut()
                    .filter(|l| l.state.open_mid().is_some())
                    .collect();
                let wanted: Vec<u32> = open.iter().map(|l| l.max_height).collect();
                let held: Vec<u32> = open.iter().map(|l| l.cap).collect();
                let caps = router::allocate(&wanted, &held, estimate.as_u64() * 9 / 10);
                for (line, cap) in open.iter_mut().zip(caps) {
                    line.cap = cap;
                }
                let lines: Vec<(u32, Option<Rid>)> =
                    open.iter().map(|l| (l.max_height, l.layer)).collect();
                let (wanted, current) = router::video_rates(&lines);
                peer.rtc
                    .bwe()
                    .set_bitrate(Bitrate::bps(current), Bitrate::bps(wanted.max(current)));
            }
            Event::PeerStats(stats) => {
                if let Some(peer) = self.peers.get_mut(&id) {
                    peer.link.rtt = stats.rtt.or(peer.link.rtt);
                    peer.link.loss = stats.ingress_loss_fraction.or(peer.link.loss);
                }
            }
            Event::MediaIngressStats(stats) => {
                if let Some(peer) = self.peers.get_mut(&id) {
                    if peer.upstream.is_some_and(|up| up.audio == stats.mid) {
                        peer.link.audio_jitter = Some(stats.jitter);
                    }
                }
            }
            Event::KeyframeRequest(request) => {
                let Some(peer) = self.peers.get(&id) else {
                    return;
                };
                if let Some(line) = peer
                    .video_out
                    .iter()
                    .find(|l| l.state.mid() == Some(request.mid))
                {
                    let (source, video, layer) = (line.source, line.video, line.layer);
                    self.request_keyframe(now, source, video, layer, false);
                }
            }
            _ => {}
        }
    }
}
