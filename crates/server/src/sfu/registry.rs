//! Who is connected and how their datagrams find them: peers by leg, calls by id and their
//! members, and the [`Demux`] that routes each datagram to its peer — STUN by the ICE username
//! it carries, everything else by its source address. Opening and closing a connection
//! (and the audio lines it adds to and removes from the others) happen here.

use super::lines::AudioOut;
use super::peer::Peer;
use super::slots::TICK;
use super::PeerId;
use super::Sfu;
use crate::contract::LegKey;
use rtcall_protocol::call::{CallId, ParticipantId};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use str0m::bwe::Bitrate;
use str0m::{Candidate, IceCreds, Rtc};

/// How often str0m measures each connection (for the echo test's report).
const STATS_EVERY: Duration = Duration::from_secs(1);
/// Redundant audio: each packet also carries the frames 1 and 2 before it.
const RED_DISTANCES: [u32; 2] = [1, 2];

/// Source addresses remembered per peer: a client uses one or two (a path or two ICE tried);
/// more are forgotten oldest first, so forged STUN cannot grow the table without bound.
const ADDRESSES_PER_PEER: usize = 8;
/// STUN's magic cookie (RFC 5389 §6).
const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];
/// The USERNAME attribute.
const USERNAME: u16 = 0x0006;

/// One call's media: its members and how its audio is forwarded.
pub(super) struct CallMedia {
    pub(super) id: CallId,
    pub(super) members: Vec<PeerId>,
    /// Forwarding only the loudest through slots.
    pub(super) large: bool,
    /// The loudest speakers (large calls), loudest first.
    pub(super) loudest: Vec<PeerId>,
    pub(super) ranked: Vec<ParticipantId>,
}

/// The local ICE username fragment a STUN message is for: the part of its USERNAME before the
/// colon (`<ours>:<theirs>`, RFC 8445 §7.2.2). `None` for anything that is not a well-formed
/// STUN message with a USERNAME.
pub fn stun_local_ufrag(datagram: &[u8]) -> Option<&str> {
    let header = datagram.get(..20)?;
    // The first two bits of every STUN message are zero (RFC 5389 §6), then the cookie.
    if header[0] & 0xc0 != 0 || header[4..8] != MAGIC_COOKIE {
        return None;
    }
    let length = usize::from(u16::from_be_bytes([header[2], header[3]]));
    let mut attributes = datagram.get(20..20 + length)?;
    while let [t0, t1, l0, l1, rest @ ..] = attributes {
        let kind = u16::from_be_bytes([*t0, *t1]);
        let len = usize::from(u16::from_be_bytes([*l0, *l1]));
        let value = rest.get(..len)?;
        if kind == USERNAME {
            let username = std::str::from_utf8(value).ok()?;
            return username.split(':').next();
        }
        // Values are padded to four bytes.
        attributes = rest.get(len.next_multiple_of(4)..)?;
    }
    None
}

/// Username fragments a peer is reached by: its current one, and the one before an ICE restart
/// (the client checks with it until it has applied the restart).
const UFRAGS_PER_PEER: usize = 2;

/// Routes datagrams to peers. A client's first datagram from an address is a STUN binding
/// request naming the peer by its username fragment; from then on the address alone says.
#[derive(Debug, Default)]
pub struct Demux {
    by_ufrag: HashMap<String, PeerId>,
    by_address: HashMap<SocketAddr, PeerId>,
    /// Each peer's username fragments and the addresses learnt for it, newest last.
    of_peer: HashMap<PeerId, (Vec<String>, Vec<SocketAddr>)>,
}

impl Demux {
    /// A peer that can be reached with `ufrag` (from now on, besides its previous one).
    pub fn add(&mut self, peer: PeerId, ufrag: String) {
        self.by_ufrag.insert(ufrag.clone(), peer);
        let (ufrags, _) = self.of_peer.entry(peer).or_default();
        ufrags.push(ufrag);
        if ufrags.len() > UFRAGS_PER_PEER {
            let oldest = ufrags.remove(0);
            self.by_ufrag.remove(&oldest);
        }
    }

    /// Forgets a peer, its username fragments and its addresses.
    pub fn remove(&mut self, peer: PeerId) {
        let Some((ufrags, addresses)) = self.of_peer.remove(&peer) else {
            return;
        };
        for ufrag in ufrags {
            self.by_ufrag.remove(&ufrag);
        }
        for address in addresses {
            if self.by_address.get(&address) == Some(&peer) {
                self.by_address.remove(&address);
            }
        }
    }

    /// The peer a datagram from `source` is for, if any. A known address says which; from a
    /// new address only a STUN request naming a peer by its username is taken, and teaches the
    /// demux the address. A known address is never taken over by STUN naming another peer (a
    /// forged request from a spoofed source would otherwise divert a peer's media).
    pub fn route(&mut self, source: SocketAddr, datagram: &[u8]) -> Option<PeerId> {
        if let Some(peer) = self.by_address.get(&source) {
            return Some(*peer);
        }
        let peer = *self.by_ufrag.get(stun_local_ufrag(datagram)?)?;
        self.by_address.insert(source, peer);
        if let Some((_, addresses)) = self.of_peer.get_mut(&peer) {
            addresses.push(source);
            if addresses.len() > ADDRESSES_PER_PEER {
                let oldest = addresses.remove(0);
                self.by_address.remove(&oldest);
            }
        }
        Some(peer)
    }
}

/// How each connection is set up: ICE-lite; Opus with in-band FEC and DTX (DTX is asked for in
/// the offers' SDP, see `negotiation::with_dtx`), sent and received as RED with the two earlier
/// frames in each packet, so that a lost packet is recovered from either of the next two (~3×
/// the audio bitrate while speaking, ~100 kbit/s); VP8 with NACK/RTX and keyframe requests.
pub(super) fn rtc_config(audio_red: bool) -> str0m::RtcConfig {
    Rtc::builder()
        .set_ice_lite(true)
        .clear_codecs()
        .enable_opus(true, audio_red)
        .set_red_distances(&RED_DISTANCES)
        .enable_vp8(true)
        .set_send_buffer_video(VIDEO_SEND_BUFFER)
        .set_stats_interval(Some(STATS_EVERY))
        // Transport-wide congestion control on what the SFU sends: each subscriber's estimate
        // caps the simulcast layers it gets. Starting high, a clean path never sees a lower
        // layer than its views want.
        .enable_bwe(Some(Bitrate::kbps(INITIAL_ESTIMATE_KBPS)))
}

/// Video packets each outgoing line keeps for resends (NACK) and probing: over a second of the
/// highest layer, where str0m's default of 1,000 (tens of seconds of a low layer) makes a
/// subscriber of many videos cost megabytes.
const VIDEO_SEND_BUFFER: usize = 256;

/// The bandwidth estimate a new connection starts from.
const INITIAL_ESTIMATE_KBPS: u64 = 2_500;

impl Sfu {
    /// The peer of a leg.
    pub(super) fn peer_id(&self, leg: &LegKey) -> Option<PeerId> {
        self.by_leg.get(leg).copied()
    }

    /// The peer of a leg, with its id.
    pub(super) fn peer_of_mut(&mut self, leg: &LegKey) -> Option<(PeerId, &mut Peer)> {
        let id = self.peer_id(leg)?;
        Some((id, self.peers.get_mut(&id)?))
    }

    /// Opens the media connection of a participant who joined: a new `Rtc` reached at the
    /// SFU's address, an audio line for every other member (or the loudest slots), a line
    /// for it at every other member, and the first offer.
    pub(super) fn open(&mut self, now: Instant, leg: LegKey) {
        if self.by_leg.contains_key(&leg) {
            return;
        }
        let credentials = IceCreds::new();
        let mut rtc = rtc_config(self.config.audio_red)
            .set_local_ice_credentials(credentials.clone())
            .set_dtls_cert(self.cert.clone())
            .build(now);
        // A client on the same machine or a LAN reaches the SFU at one interface's address,
        // a client behind a NAT at the public one: every address is a candidate, ICE finds
        // which pair works.
        for address in &self.config.addresses {
            match Candidate::host(address.advertised, "udp") {
                Ok(candidate) => {
                    rtc.add_local_candidate(candidate);
                }
                Err(e) => {
                    tracing::error!(error = %e, %address.advertised, "cannot make a host candidate");
                }
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        let call = *self.call_ids.entry(leg.call.clone()).or_insert(id);
        let call_media = self.calls.entry(call).or_insert_with(|| CallMedia {
            id: leg.call.clone(),
            members: Vec::new(),
            large: false,
            loudest: Vec::new(),
            ranked: Vec::new(),
        });
        let members = call_media.members.clone();
        call_media.members.push(id);
        let large = call_media.large;
        let mut peer = Peer::new(leg.clone(), call, rtc, now);
        // Audio lines: one per other participant in a small call, the slots in a large one.
        if large {
            peer.audio_out
                .extend((0..self.config.loudest_audio).map(|_| AudioOut::slot()));
        } else {
            peer.audio_out.extend(
                members
                    .iter()
                    .filter_map(|m| Some(AudioOut::of(*m, self.peers.get(m)?.participant()))),
            );
        }
        let participant = peer.participant();
        self.peers.insert(id, peer);
        self.by_leg.insert(leg, id);
        self.demux.add(id, credentials.ufrag);
        if !large {
            for other in &members {
                if let Some(o) = self.peers.get_mut(other) {
                    o.audio_out.push(AudioOut::of(id, participant));
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
                peer.audio_out.retain_mut(|line| line.state.stop());
                peer.audio_out
                    .extend((0..self.config.loudest_audio).map(|_| AudioOut::slot()));
            }
            self.negotiate(id);
        }
    }

    /// Closes a leg's connection (or stops the echo bot it is); the others stop the lines
    /// that carried its media.
    pub(super) fn close(&mut self, leg: &LegKey) {
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
        self.demux.remove(id);
        let Some(call_media) = self.calls.get_mut(&peer.call) else {
            return;
        };
        call_media.members.retain(|m| *m != id);
        call_media.loudest.retain(|m| *m != id);
        let members = call_media.members.clone();
        let large = call_media.large;
        if members.is_empty() {
            self.calls.remove(&peer.call);
            self.call_ids.remove(&leg.call);
        }
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
                o.stop_audio_from(id);
            }
            o.stop_video_from(id);
            o.subscribers.retain(|s| *s != id);
            self.negotiate(other);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A binding request as browsers send it: USERNAME, then other attributes.
    fn binding_request(username: &str) -> Vec<u8> {
        let mut attributes = Vec::new();
        let value = username.as_bytes();
        attributes.extend_from_slice(&USERNAME.to_be_bytes());
        attributes.extend_from_slice(&(value.len() as u16).to_be_bytes());
        attributes.extend_from_slice(value);
        attributes.resize(attributes.len().next_multiple_of(4), 0);
        // PRIORITY (0x0024), 4 bytes.
        attributes.extend_from_slice(&[0x00, 0x24, 0x00, 0x04, 1, 2, 3, 4]);
        let mut message = vec![0x00, 0x01];
        message.extend_from_slice(&(attributes.len() as u16).to_be_bytes());
        message.extend_from_slice(&MAGIC_COOKIE);
        message.extend_from_slice(&[7; 12]);
        message.extend_from_slice(&attributes);
        message
    }

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn every_address_the_sfu_is_reached_at_is_a_candidate_of_its_offer() {
        use crate::contract::{LegKey, MediaCommand, MediaEvent};
        use crate::sfu::{MediaAddress, Sfu, SfuConfig};
        use rtcall_protocol::call::{CallId, ParticipantId};
        let lan = SocketAddr::from(([192, 0, 2, 7], 10000));
        let nat = MediaAddress {
            socket: SocketAddr::from(([10, 1, 2, 3], 10001)),
            advertised: SocketAddr::from(([203, 0, 113, 9], 20001)),
        };
        let mut sfu = Sfu::new(SfuConfig {
            addresses: vec![MediaAddress::own(addr(10000)), MediaAddress::own(lan), nat],
            ..SfuConfig::local(addr(10000))
        })
        .unwrap();
        let leg = LegKey {
            call: CallId("c".into()),
            participant: ParticipantId(1),
        };
        sfu.handle_command(Instant::now(), MediaCommand::Open { leg });
        let sdp = std::iter::from_fn(|| sfu.poll_event())
            .find_map(|e| match e {
                MediaEvent::Offer { sdp, .. } => Some(sdp),
                _ => None,
            })
            .expect("an offer");
        let candidates: Vec<&str> = sdp
            .lines()
            .filter(|l| l.starts_with("a=candidate"))
            .collect();
        for expected in ["127.0.0.1 10000", "192.0.2.7 10000", "203.0.113.9 20001"] {
            assert!(
                candidates.iter().any(|c| c.contains(expected)),
                "{expected} in {candidates:?}"
            );
        }
        // The NAT's inside address is not what clients can reach.
        assert!(!sdp.contains("10.1.2.3"), "{sdp}");
    }

    #[test]
    fn the_username_fragment_is_read_from_well_formed_stun_only() {
        assert_eq!(stun_local_ufrag(&binding_request("sfu1:cl")), Some("sfu1"));
        assert_eq!(stun_local_ufrag(&binding_request("abc")), Some("abc"));
        // RTP (first byte 0x80), DTLS (22), truncated, lying lengths, no cookie: nothing.
        let good = binding_request("sfu1:cl");
        assert_eq!(stun_local_ufrag(&[0x80; 40]), None);
        assert_eq!(stun_local_ufrag(&[22; 40]), None);
        assert_eq!(stun_local_ufrag(&good[..30]), None);
        let mut long = good.clone();
        long[3] = 200;
        assert_eq!(stun_local_ufrag(&long), None);
        let mut attribute_too_long = good.clone();
        attribute_too_long[23] = 100;
        assert_eq!(stun_local_ufrag(&attribute_too_long), None);
        let mut no_cookie = good;
        no_cookie[4] = 0;
        assert_eq!(stun_local_ufrag(&no_cookie), None);
        for len in 0..64 {
            // Whatever the bytes, no panic.
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 % 256) as u8).collect();
            let _ = stun_local_ufrag(&junk);
        }
    }

    #[test]
    fn stun_finds_its_peer_by_username_and_teaches_the_address() {
        let mut demux = Demux::default();
        demux.add(1, "aaaa".into());
        demux.add(2, "bbbb".into());
        let rtp = [0x80u8; 40];
        // Media from an unknown address goes nowhere.
        assert_eq!(demux.route(addr(5000), &rtp), None);
        // STUN names peer 2, whichever peers exist.
        assert_eq!(demux.route(addr(5000), &binding_request("bbbb:x")), Some(2));
        assert_eq!(demux.route(addr(5000), &rtp), Some(2));
        // An unknown username is refused and teaches nothing.
        assert_eq!(demux.route(addr(6000), &binding_request("zzzz:x")), None);
        assert_eq!(demux.route(addr(6000), &rtp), None);
        // STUN naming peer 1 from peer 2's address (forged, or a port reused while both
        // live) does not take the address over.
        assert_eq!(demux.route(addr(5000), &binding_request("aaaa:y")), Some(2));
        assert_eq!(demux.route(addr(5000), &rtp), Some(2));
        assert_eq!(demux.route(addr(5001), &binding_request("aaaa:y")), Some(1));
        // Removing a peer forgets its username and addresses, not the other's.
        demux.route(addr(7000), &binding_request("bbbb:x"));
        demux.remove(2);
        assert_eq!(demux.route(addr(7000), &rtp), None);
        assert_eq!(demux.route(addr(5000), &rtp), None);
        assert_eq!(demux.route(addr(7001), &binding_request("bbbb:x")), None);
        assert_eq!(demux.route(addr(5001), &rtp), Some(1));
        // Its address is free again: the next peer to send STUN from it gets it.
        assert_eq!(demux.route(addr(5000), &binding_request("aaaa:z")), Some(1));
    }

    #[test]
    fn after_an_ice_restart_the_new_and_the_previous_username_reach_the_peer() {
        let mut demux = Demux::default();
        demux.add(1, "old1".into());
        demux.add(1, "new1".into());
        assert_eq!(demux.route(addr(5000), &binding_request("old1:x")), Some(1));
        // A new network: the new username teaches its address.
        assert_eq!(demux.route(addr(6000), &binding_request("new1:y")), Some(1));
        // A second restart forgets the first username.
        demux.add(1, "newer".into());
        assert_eq!(demux.route(addr(7000), &binding_request("old1:x")), None);
        assert_eq!(demux.route(addr(7001), &binding_request("new1:y")), Some(1));
        demux.remove(1);
        assert_eq!(demux.route(addr(7002), &binding_request("newer:z")), None);
        assert!(demux.by_ufrag.is_empty());
    }

    #[test]
    fn forged_stun_from_many_addresses_stays_bounded() {
        let mut demux = Demux::default();
        demux.add(1, "aaaa".into());
        for port in 0..1000 {
            demux.route(addr(10_000 + port), &binding_request("aaaa:x"));
        }
        assert_eq!(demux.by_address.len(), ADDRESSES_PER_PEER);
        // The newest addresses are the ones kept.
        assert_eq!(demux.route(addr(10_999), &[0x80; 20]), Some(1));
        assert_eq!(demux.route(addr(10_000), &[0x80; 20]), None);
    }
}
