//! The telephone gateway: rtcall-server as a SIP user agent on its trunks. [`Gateway`] is
//! sans-IO like the hub and the SFU: the node feeds it the hub's phone commands, what arrives on
//! its sockets (SIP over UDP or TCP, the trunks' RTP, WebRTC to the SFU) and the time; it gives back
//! datagrams and [`PhoneEvent`]s for the hub (a phone participant rings, answers, hangs up,
//! answers its media offer). One [`SipCall`] per phone leg, found by its SIP Call-ID, and once
//! the phone side describes its audio, one [`PhoneMedia`] bridging it into the call.
//!
//! SIP from the network is untrusted: datagrams from addresses no trunk allows are dropped
//! unanswered (scanners learn nothing), unparseable ones are dropped, requests for dialogs that
//! do not exist get 481, and nothing a peer sends can touch another call.

pub mod audio;
pub mod config;
pub mod media;

use crate::contract::{LegKey, PhoneCommand, PhoneEvent, PhoneProgress};
use config::{PhoneConfig, Trunk};
use media::{MediaTransmit, PhoneMedia};
use rand::{Rng, SeedableRng};
use rtcall_protocol::call::EndReason;
use rtcall_protocol::call::{CallId, ParticipantId};
use rtcall_sip::call::{
    called_number, caller_number, CallEvent, Dial, EndCause, SipCall, Transport,
};
use rtcall_sip::g711::Law;
use rtcall_sip::message::{Message, Method};
use rtcall_sip::rtp::RtpPacket;
use rtcall_sip::sdp::{AudioDescription, Direction};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

/// The payload type offered for RFC 4733 telephone events.
const TELEPHONE_EVENT_PT: u8 = 101;

/// One call's media ports: RTP to the phone side, WebRTC to the SFU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaPorts {
    /// Where the phone side's RTP arrives.
    pub rtp: SocketAddr,
    /// The call's end of its connection to the SFU.
    pub webrtc: SocketAddr,
}

/// Which of the gateway's sockets a datagram uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneSocket {
    /// SIP over UDP, to trunks.
    Sip,
    /// SIP over TCP: the node keeps a connection per peer (the one a peer opened, or one it
    /// opens).
    SipTcp,
    /// RTP, to trunks, from one of the gateway's RTP ports (by index): each call has its own.
    Rtp(usize),
    /// WebRTC, to the SFU, from one of the gateway's WebRTC ports (by index; a call's is at
    /// its RTP port's index). One per call: two connections from one port to the SFU's one
    /// port could not be told apart.
    WebRtc(usize),
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneTransmit {
    /// From which socket.
    pub socket: PhoneSocket,
    /// Where to.
    pub destination: SocketAddr,
    /// The datagram.
    pub contents: Vec<u8>,
}

#[derive(Debug)]
struct PhoneCall {
    leg: LegKey,
    /// Its RTP port (an index into the gateway's).
    rtp: usize,
    /// Where its SIP goes: the trunk (calls out), or whoever sent the INVITE (calls in).
    peer: SocketAddr,
    sip: SipCall,
    /// The audio bridge, once the phone side described its audio.
    media: Option<PhoneMedia>,
    /// A call from a phone: its offer, until answered.
    offer: Option<AudioDescription>,
    /// Told the hub it ended.
    ended: bool,
}

/// Counts of what was refused, for the operator.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GatewayStats {
    /// Datagrams from addresses no trunk allows.
    pub not_allowed: u64,
    /// Datagrams that are not SIP.
    pub malformed: u64,
    /// Requests for dialogs that do not exist.
    pub unknown_dialog: u64,
    /// RTP on a port no call has, or from an address other than its phone side's.
    pub unknown_rtp: u64,
    /// Calls refused because every RTP port was in use.
    pub no_port: u64,
}

/// The gateway's state: its phone calls.
#[derive(Debug)]
pub struct Gateway {
    config: PhoneConfig,
    /// Its media ports, by index: an RTP port (to the phone side) and a WebRTC port (to the
    /// SFU) for each call at once.
    ports: Vec<MediaPorts>,
    free_rtp: Vec<usize>,
    calls: HashMap<String, PhoneCall>,
    /// Calls by RTP port.
    by_rtp: HashMap<usize, String>,
    by_leg: HashMap<LegKey, String>,
    rng: rand::rngs::StdRng,
    transmits: VecDeque<PhoneTransmit>,
    events: VecDeque<PhoneEvent>,
    stats: GatewayStats,
}

impl Gateway {
    /// A gateway on `config`'s trunks, with one call's media on each of `ports`; `seed` makes
    /// its Call-IDs, tags and SSRCs.
    pub fn new(config: PhoneConfig, ports: Vec<MediaPorts>, seed: u64) -> Self {
        Gateway {
            config,
            free_rtp: (0..ports.len()).rev().collect(),
            ports,
            calls: HashMap::new(),
            by_rtp: HashMap::new(),
            by_leg: HashMap::new(),
            rng: rand::rngs::StdRng::seed_from_u64(seed),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: GatewayStats::default(),
        }
    }

    /// What was refused so far.
    pub fn stats(&self) -> GatewayStats {
        self.stats
    }

    /// A command from the hub.
    pub fn handle_command(&mut self, now: Instant, command: PhoneCommand) {
        match command {
            PhoneCommand::Dial {
                leg,
                number,
                caller_id,
            } => self.dial(now, leg, number, caller_id),
            PhoneCommand::HangUp { leg } => {
                if let Some(call_id) = self.by_leg.get(&leg).cloned() {
                    if let Some(call) = self.calls.get_mut(&call_id) {
                        // The hub already knows: it asked.
                        call.ended = true;
                        call.sip.hang_up(now);
                    }
                    self.drain(now, &call_id);
                }
            }
            PhoneCommand::Answer { leg } => self.answer(now, &leg),
            PhoneCommand::Rebind { from, to } => {
                if let Some(call_id) = self.by_leg.remove(&from) {
                    if let Some(call) = self.calls.get_mut(&call_id) {
                        call.leg = to.clone();
                    }
                    self.by_leg.insert(to, call_id);
                }
            }
            PhoneCommand::SendDtmf { leg, code } => {
                if let Some(bridge) = self.bridge_of(&leg) {
                    bridge.send_dtmf(code);
                }
            }
            PhoneCommand::Offer {
                leg,
                version,
                sdp,
                media,
            } => {
                let Some(call) = self.by_leg.get(&leg).and_then(|id| self.calls.get_mut(id)) else {
                    return;
                };
                let Some(bridge) = call.media.as_mut() else {
                    return;
                };
                match bridge.accept_offer(now, &sdp, &media) {
                    Ok(sdp) => self
                        .events
                        .push_back(PhoneEvent::Answer { leg, version, sdp }),
                    Err(e) => tracing::warn!(error = %e, "cannot answer the SFU for a phone"),
                }
                queue_media(&mut self.transmits, call);
            }
        }
    }

    fn dial(&mut self, now: Instant, leg: LegKey, number: String, caller_id: String) {
        // The caller id's trunk carries the call (the hub checked that one owns it).
        let Some(trunk) = self.config.trunks.iter().position(|t| t.owns(&caller_id)) else {
            self.events.push_back(PhoneEvent::Ended {
                leg,
                reason: EndReason::phone(403),
            });
            return;
        };
        let Some(rtp) = self.free_rtp.pop() else {
            self.stats.no_port += 1;
            self.events.push_back(PhoneEvent::Ended {
                leg,
                reason: EndReason::phone(503),
            });
            return;
        };
        let t: &Trunk = &self.config.trunks[trunk];
        let call_id = format!("{:032x}@rtcall", self.rng.gen::<u128>());
        let dial = Dial {
            local: self.config.sip_udp,
            trunk_host: t.address.to_string(),
            to: number,
            from: caller_id,
            credentials: t.credentials.clone(),
            call_id: call_id.clone(),
            tag: format!("{:016x}", self.rng.gen::<u64>()),
            ring_timeout: self.config.ring_timeout,
            transport: t.transport,
        };
        let offer = AudioDescription {
            address: self.ports[rtp].rtp.ip(),
            port: self.ports[rtp].rtp.port(),
            laws: vec![Law::Ulaw, Law::Alaw],
            telephone_event: Some(TELEPHONE_EVENT_PT),
            direction: Direction::SendRecv,
        };
        let sip = SipCall::dial(now, dial, &offer);
        self.add(
            now,
            PhoneCall {
                leg,
                rtp,
                peer: self.config.trunks[trunk].address,
                sip,
                media: None,
                offer: None,
                ended: false,
            },
        );
    }

    /// A SIP message from `source`, a datagram or a frame of a TCP connection (`transport`).
    pub fn handle_sip(
        &mut self,
        now: Instant,
        source: SocketAddr,
        transport: Transport,
        bytes: &[u8],
    ) {
        let Some(trunk) = self
            .config
            .trunks
            .iter()
            .position(|t| t.allow.contains(&source.ip()))
        else {
            self.stats.not_allowed += 1;
            return;
        };
        let Ok(message) = Message::parse(bytes) else {
            self.stats.malformed += 1;
            return;
        };
        let call_id = message.call_id().unwrap_or_default().to_owned();
        if let Some(call) = self.calls.get_mut(&call_id) {
            call.sip.receive(now, &message);
            self.drain(now, &call_id);
            return;
        }
        // Not a dialog of ours. Requests get an answer; stray responses are dropped.
        let reply = match message.method() {
            _ if message.code().is_some() => return,
            Some(Method::Ack) => return,
            Some(Method::Invite) if message.to_tag().is_none() => {
                self.incoming(now, trunk, source, &message);
                return;
            }
            Some(Method::Options) => (200, "OK"),
            _ => {
                self.stats.unknown_dialog += 1;
                (481, "Call/Transaction Does Not Exist")
            }
        };
        let response = Message::response_to(&message, reply.0, reply.1, None);
        self.transmits.push_back(PhoneTransmit {
            socket: sip_socket(transport),
            destination: source,
            contents: response.to_bytes(),
        });
    }

    /// Whether any trunk lets `ip` send SIP (the node asks before taking a TCP connection).
    pub fn allows(&self, ip: std::net::IpAddr) -> bool {
        self.config.trunks.iter().any(|t| t.allow.contains(&ip))
    }

    /// A phone calls one of the numbers of `trunk`: 404 if the number has no route, else
    /// 100 and 180 to the phone and an [`PhoneEvent::Incoming`] for the hub.
    fn incoming(&mut self, now: Instant, trunk: usize, peer: SocketAddr, invite: &Message) {
        let t = &self.config.trunks[trunk];
        let number = called_number(invite).or_else(|| {
            rtcall_sip::message::uri_user(rtcall_sip::message::uri_of(invite.header("To")?))
        });
        let Some(target) = number.and_then(|n| t.route(n)).cloned() else {
            let response = Message::response_to(invite, 404, "Not Found", None);
            self.transmits.push_back(PhoneTransmit {
                socket: sip_socket(Transport::of(invite)),
                destination: peer,
                contents: response.to_bytes(),
            });
            return;
        };
        let Some(rtp) = self.free_rtp.pop() else {
            self.stats.no_port += 1;
            let response = Message::response_to(invite, 503, "Service Unavailable", None);
            self.transmits.push_back(PhoneTransmit {
                socket: sip_socket(Transport::of(invite)),
                destination: peer,
                contents: response.to_bytes(),
            });
            return;
        };
        let caller = caller_number(invite).unwrap_or("anonymous").to_owned();
        let tag = format!("{:016x}", self.rng.gen::<u64>());
        let mut sip = SipCall::incoming(now, self.config.sip_udp, invite, tag);
        let offer = std::iter::from_fn(|| sip.poll_event()).find_map(|e| match e {
            CallEvent::Offered(audio) => Some(audio),
            _ => None,
        });
        let leg = LegKey {
            call: CallId(format!("pstn-{:016x}", self.rng.gen::<u64>())),
            participant: ParticipantId(0),
        };
        // Without usable audio the call already got 488; it stays only to finish its SIP.
        let ended = offer.is_none();
        if !ended {
            sip.ring();
            self.events.push_back(PhoneEvent::Incoming {
                leg: leg.clone(),
                caller,
                target,
            });
        }
        self.add(
            now,
            PhoneCall {
                leg,
                rtp,
                peer,
                sip,
                media: None,
                offer,
                ended,
            },
        );
    }

    /// Keeps a new call (by its SIP Call-ID, its leg and its RTP port) and sends what it has
    /// to send.
    fn add(&mut self, now: Instant, call: PhoneCall) {
        let call_id = call.sip.call_id().to_owned();
        self.by_leg.insert(call.leg.clone(), call_id.clone());
        self.by_rtp.insert(call.rtp, call_id.clone());
        self.calls.insert(call_id.clone(), call);
        self.drain(now, &call_id);
    }

    /// Answers a call from a phone with the gateway's audio, and starts bridging it.
    fn answer(&mut self, now: Instant, leg: &LegKey) {
        let Some(call_id) = self.by_leg.get(leg).cloned() else {
            return;
        };
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        let Some(offer) = call.offer.take() else {
            return;
        };
        let ports = self.ports[call.rtp];
        let answer = offer.answer(ports.rtp.ip(), ports.rtp.port());
        call.sip.answer(now, &answer);
        let heard = AudioDescription {
            laws: answer.laws.clone(),
            ..offer
        };
        bridge(&mut call.media, now, ports.webrtc, &heard, &mut self.rng);
        self.events.push_back(PhoneEvent::Progress {
            leg: leg.clone(),
            progress: PhoneProgress::Connected,
        });
        self.drain(now, &call_id);
    }

    /// The audio bridge of a phone participant, if its audio started.
    fn bridge_of(&mut self, leg: &LegKey) -> Option<&mut PhoneMedia> {
        let call_id = self.by_leg.get(leg)?;
        self.calls.get_mut(call_id)?.media.as_mut()
    }

    /// A datagram on RTP port `port`: the audio (or keys) of that port's call, if it comes from
    /// the phone side's host (any port of it, for trunks behind NAT).
    pub fn handle_rtp(&mut self, port: usize, source: SocketAddr, bytes: &[u8]) {
        let call = self.by_rtp.get(&port).and_then(|id| self.calls.get_mut(id));
        let Some((leg, bridge)) = call.and_then(|c| {
            let bridge = c.media.as_mut().filter(|m| m.trunk().ip() == source.ip())?;
            Some((&c.leg, bridge))
        }) else {
            self.stats.unknown_rtp += 1;
            return;
        };
        let Some(packet) = RtpPacket::parse(bytes) else {
            self.stats.unknown_rtp += 1;
            return;
        };
        if let Some(code) = bridge.handle_rtp(&packet) {
            let leg = leg.clone();
            self.events.push_back(PhoneEvent::Dtmf { leg, code });
        }
    }

    /// A datagram on WebRTC port `port`: the SFU talking to that port's call.
    pub fn handle_webrtc(&mut self, now: Instant, port: usize, source: SocketAddr, bytes: &[u8]) {
        let Some(call) = self.by_rtp.get(&port).and_then(|id| self.calls.get_mut(id)) else {
            return;
        };
        if let Some(bridge) = call.media.as_mut() {
            bridge.handle_webrtc(now, source, bytes);
        }
        // Only this call's: a datagram from the SFU concerns no other.
        queue_media(&mut self.transmits, call);
    }

    /// Time passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        for call in self.calls.values_mut() {
            if let Some(bridge) = call.media.as_mut().filter(|b| b.poll_timeout() <= now) {
                bridge.handle_timeout(now);
                queue_media(&mut self.transmits, call);
            }
        }
        let due: Vec<String> = self
            .calls
            .iter()
            .filter(|(_, c)| c.sip.poll_timeout().is_some_and(|t| t <= now))
            .map(|(id, _)| id.clone())
            .collect();
        for call_id in due {
            if let Some(call) = self.calls.get_mut(&call_id) {
                call.sip.handle_timeout(now);
            }
            self.drain(now, &call_id);
        }
    }

    /// When [`Gateway::handle_timeout`] should next run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.calls
            .values()
            .flat_map(|c| {
                [
                    c.sip.poll_timeout(),
                    c.media.as_ref().map(PhoneMedia::poll_timeout),
                ]
            })
            .flatten()
            .min()
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<PhoneTransmit> {
        self.transmits.pop_front()
    }

    /// The next event for the hub.
    pub fn poll_event(&mut self) -> Option<PhoneEvent> {
        self.events.pop_front()
    }

    /// Moves a call's datagrams and events out; forgets it once its SIP side is done.
    fn drain(&mut self, now: Instant, call_id: &str) {
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        let socket = sip_socket(call.sip.transport());
        let webrtc = self.ports[call.rtp].webrtc;
        while let Some(contents) = call.sip.poll_transmit() {
            self.transmits.push_back(PhoneTransmit {
                socket,
                destination: call.peer,
                contents,
            });
        }
        while let Some(event) = call.sip.poll_event() {
            let leg = call.leg.clone();
            let progress = match event {
                CallEvent::Ringing => Some(PhoneProgress::Ringing),
                CallEvent::EarlyMedia(audio) => {
                    bridge(&mut call.media, now, webrtc, &audio, &mut self.rng);
                    Some(PhoneProgress::EarlyMedia)
                }
                CallEvent::Answered(audio) => {
                    bridge(&mut call.media, now, webrtc, &audio, &mut self.rng);
                    Some(PhoneProgress::Connected)
                }
                CallEvent::Trying | CallEvent::Offered(_) => None,
                CallEvent::Ended(cause) => {
                    // No more audio either way.
                    call.media = None;
                    if !std::mem::replace(&mut call.ended, true) {
                        self.events.push_back(PhoneEvent::Ended {
                            leg,
                            reason: end_reason(&cause),
                        });
                    }
                    None
                }
            };
            if let Some(progress) = progress.filter(|_| !call.ended) {
                self.events.push_back(PhoneEvent::Progress {
                    leg: call.leg.clone(),
                    progress,
                });
            }
        }
        if call.sip.is_done() {
            let (leg, rtp) = (call.leg.clone(), call.rtp);
            self.calls.remove(call_id);
            self.by_leg.remove(&leg);
            self.by_rtp.remove(&rtp);
            self.free_rtp.push(rtp);
        }
    }
}

/// Queues what a call's audio bridge has to send, on the call's own ports.
fn queue_media(transmits: &mut VecDeque<PhoneTransmit>, call: &mut PhoneCall) {
    let Some(bridge) = call.media.as_mut() else {
        return;
    };
    while let Some(transmit) = bridge.poll_transmit() {
        let (socket, destination, contents) = match transmit {
            MediaTransmit::Rtp {
                destination,
                contents,
            } => (PhoneSocket::Rtp(call.rtp), destination, contents),
            MediaTransmit::WebRtc {
                destination,
                contents,
            } => (PhoneSocket::WebRtc(call.rtp), destination, contents),
        };
        transmits.push_back(PhoneTransmit {
            socket,
            destination,
            contents,
        });
    }
}

/// The socket SIP over `transport` goes out on.
fn sip_socket(transport: Transport) -> PhoneSocket {
    match transport {
        Transport::Udp => PhoneSocket::Sip,
        Transport::Tcp => PhoneSocket::SipTcp,
    }
}

/// Starts the audio bridge for the phone side's `audio`, unless there is one (early media
/// becoming the answer keeps its bridge; RFC 3264 lets the answer move it, rarely done).
fn bridge(
    media: &mut Option<PhoneMedia>,
    now: Instant,
    webrtc: SocketAddr,
    audio: &AudioDescription,
    rng: &mut rand::rngs::StdRng,
) {
    if media.is_some() {
        return;
    }
    let trunk = SocketAddr::new(audio.address, audio.port);
    let law = audio.laws.first().copied().unwrap_or(Law::Ulaw);
    match PhoneMedia::new(now, webrtc, trunk, (law, audio.telephone_event), rng.gen()) {
        Ok(bridge) => *media = Some(bridge),
        Err(e) => tracing::warn!(error = %e, "cannot bridge a phone's audio"),
    }
}

/// ACS's end reason for a phone leg: the SIP status as code and 560000 + status as sub-code,
/// 0/560000 for a normal hang-up.
fn end_reason(cause: &EndCause) -> EndReason {
    match cause.sip_code() {
        0 => EndReason::PHONE_HUNG_UP,
        code => EndReason::phone(code),
    }
}

#[cfg(test)]
mod tests;
