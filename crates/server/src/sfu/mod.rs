//! The SFU: every call's media goes through here. One str0m `Rtc` per participant, all on one
//! UDP socket (ICE-lite), negotiated by server-sent offers. A sans-IO state machine like str0m
//! itself: datagrams, commands and time go in; datagrams, hub events and the next timeout come
//! out.
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
//! Forwarding: audio from everyone to everyone in calls up to `forward_all_audio_max`
//! participants (one line per remote participant), above that only the `loudest_audio` loudest
//! through a fixed set of slots; video only to subscribers, at the simulcast layer that fits
//! their rendered size, switching layers on keyframes. Per packet the work is proportional to
//! the packet's receivers, never to the size of the call.

mod echo;
mod peer;
pub mod speakers;

use crate::echo::EchoConfig;
use crate::signaling::hub::{LegKey, MediaCommand, MediaEvent};
use peer::{
    choose_layer, AnswerError, AudioOut, LineState, Peer, PeerId, Retimer, VideoOut,
    KEYFRAME_THROTTLE,
};
use rtcall_protocol::call::{CallId, ParticipantId};
use rtcall_protocol::signal::{ErrorKind, VideoSource, WireError};
use speakers::Voice;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use str0m::crypto::dtls::DtlsCert;
use str0m::media::{KeyframeRequestKind, MediaData, Rid};
use str0m::net::{Protocol, Receive, Transmit};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};

/// SFU settings.
#[derive(Debug, Clone)]
pub struct SfuConfig {
    /// The UDP socket's address.
    pub udp: SocketAddr,
    /// The address clients reach it at, if not `udp` (behind NAT or a load balancer).
    pub public: Option<SocketAddr>,
    /// Calls up to this size forward everyone's audio to everyone.
    pub forward_all_audio_max: usize,
    /// Larger calls forward this many loudest speakers.
    pub loudest_audio: usize,
    /// A connection not up after this long fails.
    pub connect_timeout: Duration,
    /// Ask publishers for simulcast camera video.
    pub simulcast: bool,
    /// The echo test bot's timing.
    pub echo: EchoConfig,
}

impl SfuConfig {
    /// Defaults for a socket at `udp`.
    pub fn local(udp: SocketAddr) -> Self {
        SfuConfig {
            udp,
            public: None,
            forward_all_audio_max: 20,
            loudest_audio: 3,
            connect_timeout: Duration::from_secs(20),
            simulcast: true,
            echo: EchoConfig::default(),
        }
    }
}

/// Speaking, ranking and loudest-slot evaluation period.
const TICK: Duration = Duration::from_millis(200);
/// How often str0m measures each connection (for the echo test's report).
const STATS_EVERY: Duration = Duration::from_secs(1);
/// At most this many ranked dominant speakers are reported.
const MAX_RANKED: usize = 6;

struct CallMedia {
    id: CallId,
    members: Vec<PeerId>,
    /// Forwarding only the loudest through slots.
    large: bool,
    /// The loudest speakers (large calls), loudest first.
    loudest: Vec<PeerId>,
    ranked: Vec<ParticipantId>,
}

/// The SFU. See the module docs.
pub struct Sfu {
    config: SfuConfig,
    cert: DtlsCert,
    peers: HashMap<PeerId, Peer>,
    by_leg: HashMap<LegKey, PeerId>,
    by_address: HashMap<SocketAddr, PeerId>,
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
    /// An SFU with no calls. Generates the DTLS certificate all connections share.
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
            by_address: HashMap::new(),
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

    /// A command from the hub. Only [`MediaCommand::Answer`] can fail.
    pub fn handle_command(&mut self, now: Instant, command: MediaCommand) -> Result<(), WireError> {
        match command {
            MediaCommand::Open { leg } => self.open(now, leg),
            MediaCommand::OpenEcho { leg, caller } => self.open_echo(now, leg, caller),
            MediaCommand::Close { leg } => self.close(&leg),
            MediaCommand::Answer {
                leg, version, sdp, ..
            } => return self.answer(now, &leg, version, &sdp),
            MediaCommand::Hold { leg, hold } => {
                if let Some(peer) = self.by_leg.get(&leg).and_then(|id| self.peers.get_mut(id)) {
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
        }
        Ok(())
    }

    /// A datagram arrived on the SFU's socket.
    pub fn handle_receive(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        datagram: &[u8],
    ) {
        let Ok(contents) = datagram.try_into() else {
            return;
        };
        let input = Input::Receive(
            now,
            Receive {
                proto: Protocol::Udp,
                source,
                destination,
                contents,
            },
        );
        let id = match self.by_address.get(&source) {
            Some(id) => *id,
            None => {
                // A new address: only a STUN binding request can introduce it (first byte 0 or
                // 1), and only then is it worth asking every peer whether it is theirs.
                if !matches!(datagram.first(), Some(0 | 1)) {
                    return;
                }
                let Some(id) = self
                    .peers
                    .iter()
                    .find(|(_, p)| p.rtc.accepts(&input))
                    .map(|(id, _)| *id)
                else {
                    return;
                };
                self.by_address.insert(source, id);
                if let Some(peer) = self.peers.get_mut(&id) {
                    peer.addresses.push(source);
                }
                id
            }
        };
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        if let Err(e) = peer.rtc.handle_input(input) {
            tracing::debug!(participant = ?peer.leg, error = %e, "media input rejected");
        }
        self.drive(now, id);
        self.drive_dirty(now);
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
            if !peer.connected
                && now.saturating_duration_since(peer.created) > self.config.connect_timeout
            {
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
            self.next_tick = (!self.calls.is_empty()).then_some(now + TICK);
        }
        self.drive_echo(now);
        self.drive_dirty(now);
    }

    // ---- commands ----

    fn open(&mut self, now: Instant, leg: LegKey) {
        if self.by_leg.contains_key(&leg) {
            return;
        }
        let mut rtc = Rtc::builder()
            .set_ice_lite(true)
            .set_dtls_cert(self.cert.clone())
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            .set_stats_interval(Some(STATS_EVERY))
            .build(now);
        let candidate_addr = self.config.public.unwrap_or(self.config.udp);
        match Candidate::host(candidate_addr, "udp") {
            Ok(candidate) => {
                rtc.add_local_candidate(candidate);
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot make the host candidate");
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        let call = match self.call_ids.get(&leg.call) {
            Some(call) => *call,
            None => {
                let call = id;
                self.call_ids.insert(leg.call.clone(), call);
                self.calls.insert(
                    call,
                    CallMedia {
                        id: leg.call.clone(),
                        members: Vec::new(),
                        large: false,
                        loudest: Vec::new(),
                        ranked: Vec::new(),
                    },
                );
                call
            }
        };
        let mut peer = Peer {
            leg: leg.clone(),
            call,
            rtc,
            created: now,
            connected: false,
            hold: false,
            voice: Voice::new(now),
            upstream: None,
            audio_out: Vec::new(),
            video_out: Vec::new(),
            subscribers: Vec::new(),
            pending: None,
            version: 0,
            timeout: None,
            keyframe_requested: HashMap::new(),
            layers_seen: HashMap::new(),
            addresses: Vec::new(),
            link: Default::default(),
        };
        let call_media = self.calls.get_mut(&call).expect("call exists");
        let members = call_media.members.clone();
        call_media.members.push(id);
        let large = call_media.large;
        // Audio lines: one per other participant in a small call, the slots in a large one.
        if large {
            for _ in 0..self.config.loudest_audio {
                peer.audio_out.push(slot());
            }
        } else {
            for other in &members {
                if let Some(o) = self.peers.get(other) {
                    peer.audio_out.push(line_for(*other, o.participant()));
                }
            }
        }
        self.peers.insert(id, peer);
        self.by_leg.insert(leg, id);
        if !large {
            let participant = self.peers[&id].participant();
            for other in &members {
                if let Some(o) = self.peers.get_mut(other) {
                    o.audio_out.push(line_for(id, participant));
                }
                self.negotiate(*other);
            }
            if members.len() + 1 > self.config.forward_all_audio_max {
                self.make_large(call);
            }
        }
        self.negotiate(id);
        self.drive(now, id);
        self.next_tick.get_or_insert(now + TICK);
    }

    /// Switches a call to forwarding only the loudest: every member's per-participant audio
    /// lines are replaced by slots.
    fn make_large(&mut self, call: u64) {
        let Some(call_media) = self.calls.get_mut(&call) else {
            return;
        };
        call_media.large = true;
        let members = call_media.members.clone();
        for id in members {
            if let Some(peer) = self.peers.get_mut(&id) {
                peer.audio_out
                    .retain_mut(|line| Peer::stop_line(&mut line.state));
                for _ in 0..self.config.loudest_audio {
                    peer.audio_out.push(slot());
                }
            }
            self.negotiate(id);
        }
    }

    fn close(&mut self, leg: &LegKey) {
        if self.close_echo(leg) {
            return;
        }
        let Some(id) = self.by_leg.remove(leg) else {
            return;
        };
        let Some(mut peer) = self.peers.remove(&id) else {
            return;
        };
        peer.rtc.disconnect();
        self.echo_bots.remove(&id);
        for address in &peer.addresses {
            self.by_address.remove(address);
        }
        // Other peers stop the lines that carried this one's media.
        let Some(call_media) = self.calls.get_mut(&peer.call) else {
            return;
        };
        call_media.members.retain(|m| *m != id);
        call_media.loudest.retain(|m| *m != id);
        let members = call_media.members.clone();
        if members.is_empty() {
            let call = self.calls.remove(&peer.call).expect("exists");
            self.call_ids.remove(&call.id);
        }
        let large = self.calls.get(&peer.call).is_some_and(|c| c.large);
        for other in members {
            let Some(o) = self.peers.get_mut(&other) else {
                continue;
            };
            if large {
                // Slots stay; the next tick gives this one's slot to someone else.
                for line in o.audio_out.iter_mut().filter(|l| l.source == Some(id)) {
                    line.source = None;
                }
            } else {
                o.audio_out
                    .retain_mut(|line| line.source != Some(id) || Peer::stop_line(&mut line.state));
            }
            o.video_out
                .retain_mut(|line| line.source != id || Peer::stop_line(&mut line.state));
            o.subscribers.retain(|s| *s != id);
            self.negotiate(other);
        }
    }

    fn answer(
        &mut self,
        now: Instant,
        leg: &LegKey,
        version: u32,
        sdp: &str,
    ) -> Result<(), WireError> {
        let id = *self
            .by_leg
            .get(leg)
            .ok_or_else(|| WireError::new(ErrorKind::CallNotFound, "no media connection"))?;
        let peer = self.peers.get_mut(&id).expect("mapped peers exist");
        peer.accept_answer(version, sdp).map_err(|e| match e {
            AnswerError::Stale => WireError::new(ErrorKind::WrongState, e.to_string()),
            AnswerError::Invalid(_) => WireError::new(ErrorKind::InvalidArgument, e.to_string()),
        })?;
        // New video lines start with a keyframe.
        let starting: Vec<(PeerId, VideoSource, Option<Rid>)> = peer
            .video_out
            .iter()
            .filter(|l| !l.started && matches!(l.state, LineState::Open(_)))
            .map(|l| (l.source, l.video, l.layer))
            .collect();
        for (source, video, layer) in starting {
            self.request_keyframe(now, source, video, layer, true);
        }
        self.negotiate(id);
        self.drive(now, id);
        self.drive_dirty(now);
        if self.echo_bots.contains_key(&id) {
            self.drive_echo(now);
        }
        Ok(())
    }

    fn subscribe(
        &mut self,
        now: Instant,
        leg: &LegKey,
        source: ParticipantId,
        video: VideoSource,
        stream_id: rtcall_protocol::call::StreamId,
        max_height: u32,
    ) {
        let Some(&id) = self.by_leg.get(leg) else {
            return;
        };
        let source_leg = LegKey {
            call: leg.call.clone(),
            participant: source,
        };
        let echo_bot = self.echo_bot_id(&source_leg);
        let Some(source_id) = echo_bot.or_else(|| self.by_leg.get(&source_leg).copied()) else {
            return;
        };
        let peer = self.peers.get_mut(&id).expect("mapped peers exist");
        if let Some(line) = peer.video_out.iter_mut().find(|l| {
            l.stream_id == stream_id
                && !matches!(l.state, LineState::ToStop(_) | LineState::StopOffered(_))
        }) {
            // A new size: forwarding picks the layer that fits from the next packet on.
            line.max_height = max_height;
            return;
        }
        peer.video_out.push(VideoOut {
            state: LineState::ToAdd,
            stream_id,
            source: source_id,
            participant: source,
            video,
            max_height,
            layer: None,
            target: None,
            started: false,
            retimer: Retimer::default(),
        });
        if let Some(source_peer) = self.peers.get_mut(&source_id) {
            if !source_peer.subscribers.contains(&id) {
                source_peer.subscribers.push(id);
            }
        }
        self.negotiate(id);
        self.drive_dirty(now);
    }

    fn unsubscribe(
        &mut self,
        now: Instant,
        leg: &LegKey,
        stream_id: rtcall_protocol::call::StreamId,
    ) {
        let Some(&id) = self.by_leg.get(leg) else {
            return;
        };
        let peer = self.peers.get_mut(&id).expect("mapped peers exist");
        let Some(source) = peer
            .video_out
            .iter()
            .find(|l| l.stream_id == stream_id)
            .map(|l| l.source)
        else {
            return;
        };
        peer.video_out
            .retain_mut(|line| line.stream_id != stream_id || Peer::stop_line(&mut line.state));
        let still_subscribed = peer.video_out.iter().any(|l| {
            l.source == source
                && !matches!(l.state, LineState::ToStop(_) | LineState::StopOffered(_))
        });
        if !still_subscribed {
            if let Some(source_peer) = self.peers.get_mut(&source) {
                source_peer.subscribers.retain(|s| *s != id);
            }
        }
        self.negotiate(id);
        self.drive_dirty(now);
    }

    // ---- driving str0m ----

    /// Polls a peer's `Rtc` until it wants time, handling what comes out.
    fn drive(&mut self, now: Instant, id: PeerId) {
        let mut events = Vec::new();
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        let failed = loop {
            match peer.rtc.poll_output() {
                Ok(Output::Transmit(t)) => self.transmits.push_back(t),
                Ok(Output::Event(e)) => events.push(e),
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

    fn drive_dirty(&mut self, now: Instant) {
        while let Some(id) = self.dirty.pop() {
            self.drive(now, id);
        }
    }

    fn fail(&mut self, id: PeerId) {
        if let Some(peer) = self.peers.get(&id) {
            self.events.push_back(MediaEvent::Failed {
                leg: peer.leg.clone(),
            });
            let leg = peer.leg.clone();
            self.close(&leg);
        }
    }

    fn negotiate(&mut self, id: PeerId) {
        let simulcast = self.config.simulcast;
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        if let Some((version, offer, media)) = peer.negotiate(simulcast) {
            self.events.push_back(MediaEvent::Offer {
                leg: peer.leg.clone(),
                version,
                sdp: offer.to_sdp_string(),
                media,
            });
            self.dirty.push(id);
        }
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
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => self.fail(id),
            Event::MediaData(data) => self.forward(now, id, data),
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

    // ---- forwarding ----

    fn forward(&mut self, now: Instant, id: PeerId, data: MediaData) {
        self.feed_echo(now, id, &data);
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        let Some(up) = peer.upstream else {
            return;
        };
        if data.mid == up.audio {
            self.forward_audio(now, id, &data);
        } else if let Some(video) = peer.video_source_of(data.mid) {
            if let Some(rid) = data.rid {
                peer.layers_seen.insert((data.mid, rid), now);
            }
            if !data.contiguous {
                let layer = data.rid;
                self.request_keyframe(now, id, video, layer, false);
            }
            self.forward_video(now, id, video, &data);
        }
    }

    fn forward_audio(&mut self, now: Instant, id: PeerId, data: &MediaData) {
        let peer = self.peers.get_mut(&id).expect("caller checked");
        if let Some(level) = data.ext_vals.audio_level {
            if let Some(speaking) = peer.voice.observe(now, level) {
                self.events.push_back(MediaEvent::Speaking {
                    leg: peer.leg.clone(),
                    speaking,
                });
            }
        }
        if peer.hold {
            return;
        }
        let call = peer.call;
        let Some(call_media) = self.calls.get(&call) else {
            return;
        };
        if call_media.large && !call_media.loudest.contains(&id) {
            return;
        }
        let level = data.ext_vals.audio_level;
        let voice = data.ext_vals.voice_activity.unwrap_or(false);
        for &receiver in &call_media.members {
            if receiver == id {
                continue;
            }
            let Some(r) = self.peers.get_mut(&receiver) else {
                continue;
            };
            if r.hold {
                continue;
            }
            let Some(line) = r.audio_out.iter_mut().find(|l| l.source == Some(id)) else {
                continue;
            };
            let Some(mid) = line.state.open_mid() else {
                continue;
            };
            let time = line.retimer.map((id, None), data.time, data.network_time);
            let Some(mut writer) = r.rtc.writer(mid) else {
                continue;
            };
            let Some(pt) = writer.match_params(data.params) else {
                continue;
            };
            if let Some(level) = level {
                writer = writer.audio_level(level, voice);
            }
            if let Err(e) = writer.write(pt, data.network_time, time, data.data.clone()) {
                tracing::debug!(error = %e, "audio write failed");
            }
            self.dirty.push(receiver);
        }
    }

    fn forward_video(&mut self, now: Instant, id: PeerId, video: VideoSource, data: &MediaData) {
        let peer = &self.peers[&id];
        if peer.hold {
            return;
        }
        let subscribers = peer.subscribers.clone();
        let keyframe = data.is_keyframe();
        let fresh = if data.rid.is_some() {
            peer.fresh_layers(data.mid, now)
        } else {
            Vec::new()
        };
        let mut switched = Vec::new();
        for receiver in subscribers {
            let Some(r) = self.peers.get_mut(&receiver) else {
                continue;
            };
            if r.hold {
                continue;
            }
            let Some(line) = r
                .video_out
                .iter_mut()
                .find(|l| l.source == id && l.video == video)
            else {
                continue;
            };
            let Some(mid) = line.state.open_mid() else {
                continue;
            };
            // Simulcast: forward the current layer; when a better one (for the rendered size,
            // among those arriving) is wanted, keep forwarding the current one until the wanted
            // one's keyframe arrives, then switch, so the picture never freezes. A layer that
            // stopped arriving is dropped at once.
            if let Some(rid) = data.rid {
                let best = choose_layer(&fresh, line.max_height);
                if best != line.target {
                    line.target = best;
                    switched.push((best, true));
                } else if line.layer != line.target || !line.started {
                    // Still waiting for the wanted layer's keyframe: the publisher may have
                    // ignored the request (browsers rate-limit keyframes); ask again, throttled.
                    switched.push((line.target, false));
                }
                if line.layer.is_none_or(|l| !fresh.contains(&l)) {
                    line.layer = line.target;
                    line.started = false;
                }
                if Some(rid) == line.target && line.layer != line.target && keyframe {
                    line.layer = line.target;
                }
                if Some(rid) != line.layer {
                    continue;
                }
            }
            if !line.started {
                if !keyframe {
                    if data.rid.is_none() {
                        switched.push((None, false));
                    }
                    continue;
                }
                line.started = true;
            }
            let time = line
                .retimer
                .map((id, data.rid), data.time, data.network_time);
            let Some(writer) = r.rtc.writer(mid) else {
                continue;
            };
            let Some(pt) = writer.match_params(data.params) else {
                continue;
            };
            if let Err(e) = writer.write(pt, data.network_time, time, data.data.clone()) {
                tracing::debug!(error = %e, "video write failed");
            }
            self.dirty.push(receiver);
        }
        switched.dedup();
        for (layer, urgent) in switched {
            self.request_keyframe(now, id, video, layer, urgent);
        }
    }

    /// Asks a publisher for a keyframe on a layer, at most every [`KEYFRAME_THROTTLE`] unless
    /// `urgent` (a new subscriber or layer).
    fn request_keyframe(
        &mut self,
        now: Instant,
        source: PeerId,
        video: VideoSource,
        layer: Option<Rid>,
        urgent: bool,
    ) {
        let Some(peer) = self.peers.get_mut(&source) else {
            return;
        };
        let Some(mid) = peer.video_mid(video) else {
            return;
        };
        let key = (mid, layer);
        if !urgent
            && peer
                .keyframe_requested
                .get(&key)
                .is_some_and(|at| now.saturating_duration_since(*at) < KEYFRAME_THROTTLE)
        {
            return;
        }
        let Some(mut writer) = peer.rtc.writer(mid) else {
            return;
        };
        if writer
            .request_keyframe(layer, KeyframeRequestKind::Pli)
            .is_ok()
        {
            peer.keyframe_requested.insert(key, now);
            self.dirty.push(source);
        }
    }

    // ---- periodic evaluation ----

    /// Every [`TICK`]: speaking hangovers, dominant speakers, loudest slots.
    fn tick(&mut self, now: Instant) {
        let calls: Vec<u64> = self.calls.keys().copied().collect();
        for call in calls {
            let members = self.calls[&call].members.clone();
            let mut loudness = Vec::with_capacity(members.len());
            let mut dominance = Vec::with_capacity(members.len());
            for id in &members {
                let Some(peer) = self.peers.get_mut(id) else {
                    continue;
                };
                if let Some(speaking) = peer.voice.check_hangover(now) {
                    self.events.push_back(MediaEvent::Speaking {
                        leg: peer.leg.clone(),
                        speaking,
                    });
                }
                let held = peer.hold;
                loudness.push((*id, if held { 0.0 } else { peer.voice.loudness(now) }));
                dominance.push((peer.participant(), peer.voice.dominance(now)));
            }
            let call_media = self.calls.get_mut(&call).expect("listed");
            let mut ranked = speakers::rank(&call_media.ranked, &dominance);
            ranked.truncate(MAX_RANKED);
            if ranked != call_media.ranked {
                call_media.ranked = ranked.clone();
                self.events.push_back(MediaEvent::DominantSpeakers {
                    call: call_media.id.clone(),
                    ranked,
                });
            }
            if call_media.large {
                let mut loudest = speakers::rank(&call_media.loudest, &loudness);
                // Each member gets the loudest others: one more than the slots covers a member
                // who is among the loudest itself.
                loudest.truncate(self.config.loudest_audio + 1);
                if loudest != call_media.loudest {
                    call_media.loudest = loudest.clone();
                    self.assign_slots(&members, &loudest);
                }
            }
        }
    }

    /// Points each member's slots at the loudest others, keeping slots whose speaker stays.
    fn assign_slots(&mut self, members: &[PeerId], loudest: &[PeerId]) {
        let slots = self.config.loudest_audio;
        for id in members {
            let Some(peer) = self.peers.get_mut(id) else {
                continue;
            };
            let wanted: Vec<PeerId> = loudest
                .iter()
                .copied()
                .filter(|s| s != id)
                .take(slots)
                .collect();
            for line in &mut peer.audio_out {
                if line.source.is_some_and(|s| !wanted.contains(&s)) {
                    line.source = None;
                }
            }
            for source in wanted {
                if peer.audio_out.iter().any(|l| l.source == Some(source)) {
                    continue;
                }
                if let Some(line) = peer.audio_out.iter_mut().find(|l| l.source.is_none()) {
                    line.source = Some(source);
                }
            }
        }
    }
}

/// A per-participant audio line (small calls).
pub(super) fn line_for(source: PeerId, participant: ParticipantId) -> AudioOut {
    AudioOut {
        state: LineState::ToAdd,
        source: Some(source),
        participant: Some(participant),
        retimer: Retimer::default(),
    }
}

/// A loudest-speaker slot (large calls).
fn slot() -> AudioOut {
    AudioOut {
        state: LineState::ToAdd,
        source: None,
        participant: None,
        retimer: Retimer::default(),
    }
}
