//! One phone call's audio bridge. The gateway joins the call's media like any client: a
//! WebRTC connection (str0m) to the SFU, so the SFU forwards it everyone's audio and forwards
//! its audio to everyone, with no special case inside the SFU. Every 20 ms it
//!
//! - plays one frame from the trunk's [`JitterBuffer`] (G.711, decoded as it arrives → 48 kHz →
//!   Opus, with its RFC 6464 level so the SFU sees who speaks), and
//! - mixes what the SFU forwarded (Opus → 48 kHz, one decoder per line, summed → 8 kHz →
//!   G.711) into one RTP packet for the trunk: the phone hears everyone but itself, since the
//!   SFU never forwards a participant's own audio back.
//!
//! Telephone keys go both ways as RFC 4733 events on the same RTP stream, when the phone side
//! offered `telephone-event`.

use super::audio::{level, JitterBuffer, Resampler, NARROW_FRAME, WIDE_FRAME};
use rtcall_protocol::signal::MediaLine;
use rtcall_sip::dtmf::DtmfEvent;
use rtcall_sip::g711::Law;
use rtcall_sip::rtp::RtpPacket;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use str0m::change::SdpOffer;
use str0m::media::{Frequency, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};

/// The audio frame duration on both sides.
const FRAME: Duration = Duration::from_millis(20);
/// Frames the trunk's audio waits in the jitter buffer (40 ms).
const JITTER_DELAY: u32 = 2;
/// Decoded frames kept per forwarded line before the oldest is dropped (bounds latency).
const MIX_BACKLOG: usize = 3;
/// Opus packets are at most this large at the bitrates used here.
const MAX_OPUS: usize = 400;
/// A key press lasts 100 ms (800 at 8 kHz), with 60 ms between keys: what phones send.
const KEY_DURATION: u16 = 800;
/// See [`KEY_DURATION`].
const KEY_GAP_FRAMES: u32 = 3;

/// Counts for tests and the operator.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MediaStats {
    /// RTP packets from the trunk.
    pub rtp_received: u64,
    /// RTP packets to the trunk.
    pub rtp_sent: u64,
    /// Opus frames from the SFU.
    pub opus_received: u64,
    /// Opus frames to the SFU.
    pub opus_sent: u64,
}

/// A datagram the bridge wants sent.
#[derive(Debug)]
pub enum MediaTransmit {
    /// RTP to the trunk.
    Rtp {
        destination: SocketAddr,
        contents: Vec<u8>,
    },
    /// WebRTC to the SFU.
    WebRtc {
        destination: SocketAddr,
        contents: Vec<u8>,
    },
}

/// The per-frame conversions of one phone leg, apart from the network: what [`PhoneMedia`]
/// runs every 20 ms, and what the transcoding benchmark measures.
pub struct Transcoder {
    /// The phone side's G.711 law.
    pub law: Law,
    up: Resampler,
    down: Resampler,
    encoder: opus::Encoder,
    /// Reused buffers.
    narrow: Vec<i16>,
    wide: Vec<i16>,
    mix: Vec<i32>,
    opus: Vec<u8>,
    g711: Vec<u8>,
}

impl Transcoder {
    /// A transcoder for a phone side speaking `law`.
    pub fn new(law: Law) -> Result<Transcoder, String> {
        let mut encoder = opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip)
            .map_err(|e| e.to_string())?;
        // The phone side is narrowband: no point spending more.
        encoder
            .set_bitrate(opus::Bitrate::Bits(24_000))
            .map_err(|e| e.to_string())?;
        Ok(Transcoder {
            law,
            up: Resampler::new(),
            down: Resampler::new(),
            encoder,
            narrow: Vec::with_capacity(NARROW_FRAME),
            wide: Vec::with_capacity(WIDE_FRAME),
            mix: vec![0; WIDE_FRAME],
            opus: vec![0; MAX_OPUS],
            g711: Vec::with_capacity(NARROW_FRAME),
        })
    }

    /// One frame from the phone (8 kHz, decoded from G.711 as it arrived; `None` when none
    /// did: silence) as Opus for the call, with its RFC 6464 level.
    pub fn to_call(&mut self, frame: Option<&[i16]>) -> Result<(&[u8], u8), opus::Error> {
        self.narrow.clear();
        self.narrow.extend_from_slice(frame.unwrap_or_default());
        self.narrow.resize(NARROW_FRAME, 0);
        self.wide.clear();
        self.up.up(&self.narrow, &mut self.wide);
        let len = self.encoder.encode(&self.wide, &mut self.opus)?;
        Ok((&self.opus[..len], level(&self.narrow)))
    }

    /// The call's forwarded frames (48 kHz, 20 ms each), mixed, as G.711 for the phone.
    pub fn to_phone<'a>(&mut self, frames: impl Iterator<Item = &'a [i16]>) -> &[u8] {
        self.mix.iter_mut().for_each(|s| *s = 0);
        for frame in frames {
            for (sum, &s) in self.mix.iter_mut().zip(frame) {
                *sum += i32::from(s);
            }
        }
        self.wide.clear();
        self.wide.extend(
            self.mix
                .iter()
                .map(|&s| s.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16),
        );
        self.narrow.clear();
        self.down.down(&self.wide, &mut self.narrow);
        self.g711.clear();
        self.law.encode(&self.narrow, &mut self.g711);
        &self.g711
    }
}

/// One line the SFU forwards: its decoder and decoded frames waiting to be mixed.
struct Forwarded {
    decoder: opus::Decoder,
    frames: VecDeque<Vec<i16>>,
}

/// The bridge between a trunk's RTP and the call's SFU.
pub struct PhoneMedia {
    rtc: Rtc,
    local: SocketAddr,
    /// Where our Opus goes (the offer's `SendAudio` line).
    send_mid: Option<Mid>,
    trunk: SocketAddr,
    transcoder: Transcoder,
    /// The payload type of `telephone-event`, if the phone side takes keys that way.
    telephone_event: Option<u8>,
    /// Keys waiting to be sent.
    keys: VecDeque<u8>,
    /// The key being sent: its start timestamp, its packets left, whether none went yet.
    key: Option<(u32, VecDeque<DtmfEvent>, bool)>,
    /// Frames before the next key may start.
    key_gap: u32,
    /// The timestamp of the last key received, so its three end packets count once.
    last_key_in: Option<u32>,
    jitter: JitterBuffer,
    forwarded: HashMap<Mid, Forwarded>,
    ssrc: u32,
    sequence: u16,
    timestamp: u32,
    opus_frames: u64,
    next_tick: Instant,
    rtc_timeout: Instant,
    transmits: VecDeque<MediaTransmit>,
    stats: MediaStats,
    /// Room for one decoded Opus packet (at most 120 ms at 48 kHz), reused.
    decoded: Vec<i16>,
}

impl std::fmt::Debug for PhoneMedia {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhoneMedia")
            .field("trunk", &self.trunk)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl PhoneMedia {
    /// A bridge for a trunk sending `codec` (a G.711 law, and the `telephone-event` payload
    /// type if any) from `trunk`, with its WebRTC side on `local`.
    pub fn new(
        now: Instant,
        local: SocketAddr,
        trunk: SocketAddr,
        codec: (Law, Option<u8>),
        ssrc: u32,
    ) -> Result<Self, String> {
        let (law, telephone_event) = codec;
        let mut rtc = Rtc::builder()
            .clear_codecs()
            .enable_opus(true, false)
            .build(now);
        let candidate = Candidate::host(local, "udp").map_err(|e| e.to_string())?;
        rtc.add_local_candidate(candidate);
        Ok(PhoneMedia {
            rtc,
            local,
            send_mid: None,
            trunk,
            transcoder: Transcoder::new(law)?,
            telephone_event,
            keys: VecDeque::new(),
            key: None,
            key_gap: 0,
            last_key_in: None,
            jitter: JitterBuffer::new(JITTER_DELAY),
            forwarded: HashMap::new(),
            ssrc,
            sequence: ssrc as u16,
            timestamp: ssrc.rotate_left(16),
            opus_frames: 0,
            next_tick: now + FRAME,
            rtc_timeout: now,
            transmits: VecDeque::new(),
            stats: MediaStats::default(),
            decoded: vec![0; WIDE_FRAME * 6],
        })
    }

    /// The counts so far.
    pub fn stats(&self) -> MediaStats {
        self.stats
    }

    /// The trunk's media address (RTP from there is this call's).
    pub fn trunk(&self) -> SocketAddr {
        self.trunk
    }

    /// Answers the SFU's offer.
    pub fn accept_offer(
        &mut self,
        now: Instant,
        sdp: &str,
        media: &[MediaLine],
    ) -> Result<String, String> {
        let offer = SdpOffer::from_sdp_string(sdp).map_err(|e| e.to_string())?;
        let answer = self
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| e.to_string())?;
        for line in media {
            match line {
                MediaLine::SendAudio { mid } => self.send_mid = Some(Mid::from(mid.as_str())),
                MediaLine::ReceiveAudio { mid, .. } => {
                    let mid = Mid::from(mid.as_str());
                    if let std::collections::hash_map::Entry::Vacant(slot) =
                        self.forwarded.entry(mid)
                    {
                        let decoder = opus::Decoder::new(48_000, opus::Channels::Mono)
                            .map_err(|e| e.to_string())?;
                        slot.insert(Forwarded {
                            decoder,
                            frames: VecDeque::new(),
                        });
                    }
                }
                _ => {}
            }
        }
        self.drive(now);
        Ok(answer.to_sdp_string())
    }

    /// A datagram on this call's WebRTC port; what is not its connection's (not from the SFU
    /// it talks to) is dropped.
    pub fn handle_webrtc(&mut self, now: Instant, source: SocketAddr, bytes: &[u8]) {
        let Ok(contents) = bytes.try_into() else {
            return;
        };
        let input = Input::Receive(
            now,
            Receive {
                proto: Protocol::Udp,
                source,
                destination: self.local,
                contents,
            },
        );
        if !self.rtc.accepts(&input) {
            return;
        }
        if let Err(e) = self.rtc.handle_input(input) {
            tracing::debug!(error = %e, "phone media input failed");
        }
        self.drive(now);
    }

    /// An RTP packet from the trunk; returns the key pressed, when one ends.
    pub fn handle_rtp(&mut self, packet: &RtpPacket<'_>) -> Option<u8> {
        if Some(packet.payload_type) == self.telephone_event {
            let event = DtmfEvent::parse(packet.payload)?;
            // A key ends with three packets; it counts once.
            if event.end && self.last_key_in != Some(packet.timestamp) {
                self.last_key_in = Some(packet.timestamp);
                return Some(event.code);
            }
            return None;
        }
        if packet.payload_type == self.transcoder.law.payload_type() {
            // (Anything else, comfort noise say, is not audio to play.)
            self.stats.rtp_received += 1;
            let mut samples = Vec::with_capacity(packet.payload.len());
            self.transcoder.law.decode(packet.payload, &mut samples);
            self.jitter.push(packet.timestamp, &samples);
        }
        None
    }

    /// Queues a key press (RFC 4733 event code) for the phone; dropped if the phone side
    /// takes no telephone events.
    pub fn send_dtmf(&mut self, code: u8) {
        if self.telephone_event.is_some() {
            self.keys.push_back(code);
        }
    }

    /// When [`PhoneMedia::handle_timeout`] should next run.
    pub fn poll_timeout(&self) -> Instant {
        self.next_tick.min(self.rtc_timeout)
    }

    /// Time passed: str0m's timers, and a 20 ms media tick for each frame due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if now >= self.rtc_timeout {
            if let Err(e) = self.rtc.handle_input(Input::Timeout(now)) {
                tracing::debug!(error = %e, "phone media timeout failed");
            }
        }
        while self.next_tick <= now {
            self.next_tick += FRAME;
            self.phone_to_call(now);
            self.call_to_phone();
        }
        self.drive(now);
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<MediaTransmit> {
        self.transmits.pop_front()
    }

    /// Moves str0m's output: datagrams out, forwarded audio decoded.
    fn drive(&mut self, now: Instant) {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Transmit(t)) => self.transmits.push_back(MediaTransmit::WebRtc {
                    destination: t.destination,
                    contents: t.contents.to_vec(),
                }),
                Ok(Output::Timeout(at)) => {
                    self.rtc_timeout = at.max(now);
                    return;
                }
                Ok(Output::Event(Event::MediaData(data))) => {
                    let Some(line) = self.forwarded.get_mut(&data.mid) else {
                        continue;
                    };
                    self.stats.opus_received += 1;
                    match line.decoder.decode(&data.data, &mut self.decoded, false) {
                        Ok(n) => {
                            // Frames longer than 20 ms are split so the mix takes one per tick.
                            for frame in self.decoded[..n].chunks(WIDE_FRAME) {
                                let mut frame = frame.to_vec();
                                frame.resize(WIDE_FRAME, 0);
                                line.frames.push_back(frame);
                            }
                            while line.frames.len() > MIX_BACKLOG {
                                line.frames.pop_front();
                            }
                        }
                        Err(e) => tracing::debug!(error = %e, "undecodable Opus from the SFU"),
                    }
                }
                Ok(Output::Event(_)) => {}
                Err(e) => {
                    tracing::debug!(error = %e, "phone media failed");
                    self.rtc_timeout = now + FRAME;
                    return;
                }
            }
        }
    }

    /// One frame of the phone's audio into the call.
    fn phone_to_call(&mut self, now: Instant) {
        // The buffer plays on whether or not the call's side is up yet.
        let frame = self.jitter.pop();
        let Some(mid) = self.send_mid.filter(|_| self.rtc.is_connected()) else {
            return;
        };
        let (opus, audio_level) = match self.transcoder.to_call(frame.as_deref()) {
            Ok(encoded) => encoded,
            Err(e) => {
                tracing::debug!(error = %e, "Opus encoding failed");
                return;
            }
        };
        let opus = opus.to_vec();
        let time = MediaTime::new(
            self.opus_frames * WIDE_FRAME as u64,
            Frequency::FORTY_EIGHT_KHZ,
        );
        self.opus_frames += 1;
        let Some(writer) = self.rtc.writer(mid) else {
            return;
        };
        let Some(pt) = writer
            .payload_params()
            .find(|p| p.spec().codec.is_audio())
            .map(|p| p.pt())
        else {
            return;
        };
        let written = writer
            .audio_level(-(audio_level as i8), audio_level < 127)
            .write(pt, now, time, opus);
        match written {
            Ok(()) => self.stats.opus_sent += 1,
            Err(e) => tracing::debug!(error = %e, "phone audio write failed"),
        }
    }

    /// The telephone-event payload due this frame while a key is pressed: its start
    /// timestamp, whether it is the key's first packet, the payload.
    fn key_packet(&mut self) -> Option<(u32, bool, [u8; 4])> {
        self.telephone_event?;
        if self.key.is_none() {
            if self.key_gap > 0 {
                self.key_gap -= 1;
                return None;
            }
            let code = self.keys.pop_front()?;
            let events = DtmfEvent::key_press(code, KEY_DURATION, NARROW_FRAME as u16);
            self.key = Some((self.timestamp, events.into(), true));
        }
        let (start, events, first) = self.key.as_mut()?;
        let event = events.pop_front()?;
        let packet = (*start, std::mem::replace(first, false), event.to_bytes());
        if events.is_empty() {
            self.key = None;
            self.key_gap = KEY_GAP_FRAMES;
        }
        Some(packet)
    }

    /// One frame of the call's audio, mixed, to the phone (or, while a key is pressed, the
    /// key's event instead: the key's tone replaces the voice, as on a phone).
    fn call_to_phone(&mut self) {
        let frames: Vec<Vec<i16>> = self
            .forwarded
            .values_mut()
            .filter_map(|line| line.frames.pop_front())
            .collect();
        let audio = self
            .transcoder
            .to_phone(frames.iter().map(Vec::as_slice))
            .to_vec();
        let key = self.key_packet();
        let law = self.transcoder.law;
        let packet = match (&key, self.telephone_event) {
            (Some((start, first, event)), Some(pt)) => RtpPacket {
                payload_type: pt,
                marker: *first,
                sequence: self.sequence,
                timestamp: *start,
                ssrc: self.ssrc,
                payload: event,
            },
            _ => RtpPacket {
                payload_type: law.payload_type(),
                marker: self.stats.rtp_sent == 0,
                sequence: self.sequence,
                timestamp: self.timestamp,
                ssrc: self.ssrc,
                payload: &audio,
            },
        };
        let mut contents = Vec::with_capacity(12 + audio.len());
        packet.write(&mut contents);
        self.sequence = self.sequence.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(NARROW_FRAME as u32);
        self.stats.rtp_sent += 1;
        self.transmits.push_back(MediaTransmit::Rtp {
            destination: self.trunk,
            contents,
        });
    }
}
