//! A native client's media side, one task per call: its own str0m `Rtc` over a UDP socket of
//! its own (full ICE, answering the server's offers), sending what [`Sending`] asks (synthetic
//! Opus frames with RFC 6464 levels, or real Opus of a tone, and VP8 frames tagged with the
//! sender) and recording what arrives in a [`MediaState`] the test reads.

use rtcall_protocol::call::ParticipantId;
use rtcall_protocol::signal::{MediaLine, VideoSource};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use str0m::change::SdpOffer;
use str0m::media::{Frequency, MediaData, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event as RtcEvent, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

/// The largest UDP datagram.
const MAX_DATAGRAM: usize = 65_535;
/// Datagrams taken at once when one arrives.
const RECEIVE_BURST: usize = 256;

/// Marks a client's media: its frames carry it (big-endian, in an audio frame's first two bytes
/// and after a VP8 frame's header), so a receiver can tell whose frames it got. A simulcast
/// camera layer is tagged `tag * 10 + layer` (q 0, h 1, f 2), a screen share `tag * 10 + 9`.
pub type Tag = u16;

/// What one m-line received.
#[derive(Debug, Default, Clone)]
pub struct LineStats {
    pub frames: u64,
    /// RTP packets the frames arrived in.
    pub packets: u64,
    pub keyframes: u64,
    /// Frames per sender tag.
    pub by_tag: HashMap<Tag, u64>,
    /// Arrival of the latest frame.
    pub last: Option<Instant>,
    /// Frames that decoded as real Opus, and their summed mean square (full scale 1).
    pub decoded: u64,
    pub energy: f64,
    /// Longest gap between consecutive frames.
    pub max_gap: Duration,
}

/// Everything the media side knows, shared with the test.
#[derive(Debug, Default)]
pub struct MediaState {
    pub connected: bool,
    pub lines: HashMap<String, LineStats>,
    /// Datagrams sent.
    pub sent: u64,
    /// The latest offer's line roles.
    pub media: Vec<MediaLine>,
    /// Times the connection was (re)created.
    pub connections: u32,
    /// Sender-to-receiver delays of the synthetic audio frames received (their send time rides
    /// in the frame; sender and receiver share this process's clock).
    pub audio_delays: Vec<Duration>,
    /// The UDP port of the media socket (where [`crate::kernel::udp_sockets`] counts what a
    /// [`Receiving::Discard`] client's filter dropped).
    pub port: u16,
}

impl MediaState {
    /// Audio frames received from sender `tag`, over all audio lines.
    pub fn audio_from_tag(&self, tag: Tag) -> u64 {
        self.lines
            .iter()
            .filter(|(mid, _)| self.kind_of(mid) == Some(LineKind::Audio))
            .map(|(_, l)| l.by_tag.get(&tag).copied().unwrap_or(0))
            .sum()
    }

    /// Frames received on lines of a role (audio or video).
    pub fn frames(&self, kind: LineKind) -> u64 {
        self.lines
            .iter()
            .filter(|(mid, _)| self.kind_of(mid) == Some(kind))
            .map(|(_, l)| l.frames)
            .sum()
    }

    /// Video frames from a tag, and how many were keyframes.
    pub fn video_from_tag(&self, tag: Tag) -> (u64, u64) {
        let mut frames = 0;
        let mut keys = 0;
        for (mid, line) in &self.lines {
            if self.kind_of(mid) == Some(LineKind::Video) {
                frames += line.by_tag.get(&tag).copied().unwrap_or(0);
                keys += line.keyframes;
            }
        }
        (frames, keys)
    }

    /// The level (dBFS, RMS) of what decoded on `participant`'s audio line, with how many
    /// frames decoded; `None` before any did.
    pub fn audio_level_from(&self, participant: ParticipantId) -> Option<(u64, f64)> {
        let mid = self.media.iter().find_map(|line| match line {
            MediaLine::ReceiveAudio {
                mid,
                participant_id: Some(p),
            } if *p == participant => Some(mid),
            _ => None,
        })?;
        let line = self.lines.get(mid).filter(|l| l.decoded > 0)?;
        Some((
            line.decoded,
            10.0 * (line.energy / line.decoded as f64).log10(),
        ))
    }

    fn kind_of(&self, mid: &str) -> Option<LineKind> {
        self.media.iter().find_map(|line| match line {
            MediaLine::ReceiveAudio { mid: m, .. } if m == mid => Some(LineKind::Audio),
            MediaLine::ReceiveVideo { mid: m, .. } if m == mid => Some(LineKind::Video),
            _ => None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Audio,
    Video,
}

/// What the test asks the media side to send.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sending {
    /// Audio level in dBov while sending audio (None: no audio).
    pub audio_level: Option<i8>,
    /// Camera frames per second (0: no video).
    pub video_fps: u32,
    /// Send the camera as three simulcast layers (q, h, f), tagged `tag * 10 + layer`.
    pub simulcast: bool,
    /// Send real Opus, a sine at this frequency, instead of tagged synthetic frames (for
    /// whoever decodes the audio: the telephone gateway).
    pub tone_hz: Option<f32>,
    /// Silence (level -127) goes as Opus DTX sends it: one frame every 400 ms.
    pub dtx: bool,
    /// Screen share frames per second (0: no share), one layer.
    pub screen_fps: u32,
}

impl Sending {
    /// Synthetic audio frames at `level` dBov, nothing else.
    pub fn audio(level: i8) -> Sending {
        Sending {
            audio_level: Some(level),
            ..Sending::default()
        }
    }
}

/// How a client takes in the media it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Receiving {
    /// Every packet through str0m: frames counted per line and sender tag, audio decoded.
    #[default]
    Decode,
    /// Forwarded media is dropped by the kernel: a socket filter lets through only what the
    /// connection itself needs (STUN, DTLS, RTCP), so RTP never wakes the client. For load, so
    /// that the generator costs little beside the server; what the server forwarded is then
    /// counted from the kernel's UDP counters, and what each client got from its socket's drops.
    Discard,
}

pub(crate) enum MediaCommand {
    Offer {
        sdp: String,
        media: Vec<MediaLine>,
        answer: oneshot::Sender<Result<String, String>>,
    },
    Send(Sending),
    Stop,
}

/// A running media side: where to send it commands, and what it knows.
pub(crate) struct MediaHandle {
    pub(crate) commands: mpsc::UnboundedSender<MediaCommand>,
    pub(crate) state: Arc<Mutex<MediaState>>,
}

impl MediaHandle {
    /// Starts a media side for a client tagged `tag`.
    pub(crate) fn spawn(tag: Tag, receiving: Receiving) -> MediaHandle {
        let (commands, rx) = mpsc::unbounded_channel();
        let state = Arc::new(Mutex::new(MediaState::default()));
        tokio::spawn(run(rx, Arc::clone(&state), tag, receiving));
        MediaHandle { commands, state }
    }
}

/// A synthetic audio frame: the sender's tag, a sequence byte, and when it was sent (µs since
/// [`epoch`], then `STAMPED`).
fn synthetic_audio(tag: Tag, seq: u64) -> Vec<u8> {
    let mut payload = vec![0; 40];
    payload[..2].copy_from_slice(&tag.to_be_bytes());
    payload[2] = (seq % 256) as u8;
    let sent = epoch().elapsed().as_micros() as u64;
    payload[3..11].copy_from_slice(&sent.to_be_bytes());
    payload[11..13].copy_from_slice(STAMPED);
    payload
}

/// Marks a synthetic frame's send time as such.
const STAMPED: &[u8; 2] = b"rt";

/// The clock synthetic frames are stamped with: the first time this process asked.
fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// How long ago a synthetic audio frame was sent, if it is one.
fn synthetic_delay(frame: &[u8]) -> Option<Duration> {
    if frame.len() != 40 || &frame[11..13] != STAMPED {
        return None;
    }
    let sent = u64::from_be_bytes(frame[3..11].try_into().ok()?);
    Some(
        epoch()
            .elapsed()
            .saturating_sub(Duration::from_micros(sent)),
    )
}

/// A VP8 frame str0m parses: a frame tag (keyframe or not), the keyframe start code and size,
/// then the sender's tag and padding.
fn vp8_frame(keyframe: bool, tag: Tag, len: usize) -> Vec<u8> {
    let mut frame = if keyframe {
        vec![0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01]
    } else {
        vec![0x11, 0x02, 0x00]
    };
    frame.extend(tag.to_be_bytes());
    frame.resize(len, 0xa5);
    frame
}

/// The sender tag inside a received frame: the first two bytes of audio, the two after the VP8
/// header of video.
fn tag_of(data: &[u8], video: bool) -> Option<Tag> {
    let at = match video {
        false => 0,
        true if data.first()? & 0x01 == 0 => 10,
        true => 3,
    };
    Some(Tag::from_be_bytes(data.get(at..at + 2)?.try_into().ok()?))
}

/// A classic BPF socket filter that drops RTP and keeps everything else (STUN, DTLS, RTCP),
/// demultiplexed as RFC 7983 and RFC 5761 §4 say: a first byte of 128–191 is RTP or RTCP, and
/// RTCP's packet types put 192–223 where RTP has its marker bit and payload type. A UDP
/// socket's filter sees the datagram from its UDP header: the payload starts at offset 8.
const NO_RTP: [socket2::SockFilter; 8] = {
    use socket2::SockFilter as F;
    const LOAD_BYTE: u16 = 0x30; // BPF_LD | BPF_B | BPF_ABS
    const JUMP_GE: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
    const RETURN: u16 = 0x06; // BPF_RET | BPF_K
    [
        F::new(LOAD_BYTE, 0, 0, 8),     // 0: A = first payload byte
        F::new(JUMP_GE, 0, 5, 128),     // 1: below 128 (STUN, DTLS): keep
        F::new(JUMP_GE, 4, 0, 192),     // 2: 192 and above: keep
        F::new(LOAD_BYTE, 0, 0, 9),     // 3: A = second byte
        F::new(JUMP_GE, 0, 1, 192),     // 4: below 192: RTP, drop
        F::new(JUMP_GE, 0, 1, 224),     // 5: 192–223: RTCP, keep; 224 and above: RTP, drop
        F::new(RETURN, 0, 0, 0),        // 6: drop
        F::new(RETURN, 0, 0, u32::MAX), // 7: keep
    ]
};

/// One upstream video line: where it is, and its frame clock.
struct VideoSender {
    mid: Option<Mid>,
    seq: u64,
    next: Instant,
    keyframe_wanted: bool,
}

impl VideoSender {
    fn new(start: Instant) -> Self {
        VideoSender {
            mid: None,
            seq: 0,
            next: start,
            keyframe_wanted: false,
        }
    }
}

/// One call's media side.
struct MediaSide {
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    state: Arc<Mutex<MediaState>>,
    tag: Tag,
    receiving: Receiving,
    /// The upstream audio line, once offered.
    audio_mid: Option<Mid>,
    camera: VideoSender,
    screen: VideoSender,
    video_mids: Vec<String>,
    sending: Sending,
    audio_seq: u64,
    next_audio: Instant,
    encoder: opus::Encoder,
    decoders: HashMap<String, opus::Decoder>,
    pcm: Vec<i16>,
}

async fn run(
    mut commands: mpsc::UnboundedReceiver<MediaCommand>,
    state: Arc<Mutex<MediaState>>,
    tag: Tag,
    receiving: Receiving,
) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("client udp");
    if receiving == Receiving::Discard {
        socket2::SockRef::from(&socket)
            .attach_filter(&NO_RTP)
            .expect("a socket filter");
    }
    let local: SocketAddr = socket.local_addr().unwrap();
    state.lock().unwrap().port = local.port();
    let start = Instant::now();
    let mut rtc = Rtc::builder()
        .clear_codecs()
        .enable_opus(true, false)
        .enable_vp8(true)
        .build(start);
    rtc.add_local_candidate(Candidate::host(local, "udp").unwrap());
    state.lock().unwrap().connections += 1;
    let mut side = MediaSide {
        rtc,
        socket,
        local,
        state,
        tag,
        receiving,
        audio_mid: None,
        camera: VideoSender::new(start),
        screen: VideoSender::new(start),
        video_mids: Vec::new(),
        sending: Sending::default(),
        audio_seq: 0,
        next_audio: start,
        encoder: opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip)
            .expect("an Opus encoder"),
        decoders: HashMap::new(),
        pcm: vec![0; 5760],
    };
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let Some(timeout) = side.drain().await else {
            return;
        };
        let wake = side.next_send().map_or(timeout, |at| at.min(timeout));
        // A load client wakes once a frame at the most: str0m's timers can wait that long.
        let wake = match side.receiving {
            Receiving::Discard => wake.max(Instant::now() + Duration::from_millis(20)),
            Receiving::Decode => wake,
        };
        tokio::select! {
            received = side.socket.recv_from(&mut buf) => {
                if let Ok((n, source)) = received {
                    side.receive(source, &buf[..n]);
                    for _ in 0..RECEIVE_BURST {
                        match side.socket.try_recv_from(&mut buf) {
                            Ok((n, source)) => side.receive(source, &buf[..n]),
                            Err(_) => break,
                        }
                    }
                }
            }
            command = commands.recv() => match command {
                Some(MediaCommand::Offer { sdp, media, answer }) => {
                    let _ = answer.send(side.answer(&sdp, media));
                }
                Some(MediaCommand::Send(sending)) => {
                    side.sending = sending;
                    side.next_audio = Instant::now();
                    side.camera.next = Instant::now();
                    side.screen.next = Instant::now();
                }
                Some(MediaCommand::Stop) | None => return,
            },
            _ = tokio::time::sleep_until(wake.max(Instant::now()).into()) => {}
        }
        let now = Instant::now();
        let _ = side.rtc.handle_input(Input::Timeout(now));
        if side.rtc.is_connected() {
            side.send_audio(now);
            side.send_video(now, VideoSource::Camera);
            side.send_video(now, VideoSource::Screen);
            // str0m packetizes what was written at its next tick: one now, not a wake later.
            let _ = side.rtc.handle_input(Input::Timeout(now));
        }
    }
}

impl MediaSide {
    /// Sends what str0m wants sent and records what it gives; returns when it next wants
    /// time, or `None` once the connection failed.
    async fn drain(&mut self) -> Option<Instant> {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Transmit(t)) => {
                    if self
                        .socket
                        .send_to(&t.contents, t.destination)
                        .await
                        .is_ok()
                    {
                        self.state.lock().unwrap().sent += 1;
                    }
                }
                Ok(Output::Timeout(at)) => return Some(at),
                Ok(Output::Event(event)) => match event {
                    RtcEvent::Connected => self.state.lock().unwrap().connected = true,
                    RtcEvent::KeyframeRequest(request) => {
                        for video in [&mut self.camera, &mut self.screen] {
                            if video.mid == Some(request.mid) {
                                video.keyframe_wanted = true;
                            }
                        }
                    }
                    RtcEvent::MediaData(data) => self.record(&data),
                    _ => {}
                },
                Err(e) => {
                    eprintln!("client {} media failed: {e}", self.tag);
                    return None;
                }
            }
        }
    }

    /// A datagram from the server.
    fn receive(&mut self, source: SocketAddr, datagram: &[u8]) {
        let Ok(contents) = datagram.try_into() else {
            return;
        };
        let input = Input::Receive(
            Instant::now(),
            Receive {
                proto: Protocol::Udp,
                source,
                destination: self.local,
                contents,
            },
        );
        let _ = self.rtc.handle_input(input);
    }

    /// A received frame: counted on its line, by sender, and decoded if it is audio.
    fn record(&mut self, data: &MediaData) {
        let mid = data.mid.to_string();
        let video = self.video_mids.contains(&mid);
        let now = Instant::now();
        let mut state = self.state.lock().unwrap();
        if let Some(delay) = synthetic_delay(&data.data).filter(|_| !video) {
            state.audio_delays.push(delay);
        }
        let line = state.lines.entry(mid).or_default();
        line.frames += 1;
        line.packets += 1 + (**data.seq_range.end() - **data.seq_range.start());
        if video && data.is_keyframe() {
            line.keyframes += 1;
        }
        if let Some(t) = tag_of(&data.data, video) {
            *line.by_tag.entry(t).or_default() += 1;
        }
        if !video {
            // Synthetic frames from other test clients decode as noise or not at all; only
            // lines carrying real Opus give a meaningful level.
            let decoder = self
                .decoders
                .entry(data.mid.to_string())
                .or_insert_with(|| {
                    opus::Decoder::new(48_000, opus::Channels::Mono).expect("an Opus decoder")
                });
            if let Ok(n) = decoder.decode(&data.data, &mut self.pcm, false) {
                let square: f64 = self.pcm[..n]
                    .iter()
                    .map(|&s| (f64::from(s) / 32_768.0).powi(2))
                    .sum();
                line.decoded += 1;
                line.energy += square / n.max(1) as f64;
            }
        }
        if let Some(last) = line.last {
            line.max_gap = line.max_gap.max(now - last);
        }
        line.last = Some(now);
    }

    /// Answers an offer, learning which lines it sends on and which carry video.
    fn answer(&mut self, sdp: &str, media: Vec<MediaLine>) -> Result<String, String> {
        let answer = SdpOffer::from_sdp_string(sdp)
            .map_err(|e| e.to_string())
            .and_then(|offer| {
                self.rtc
                    .sdp_api()
                    .accept_offer(offer)
                    .map_err(|e| e.to_string())
            })
            .map(|answer| answer.to_sdp_string());
        for line in &media {
            match line {
                MediaLine::SendAudio { mid } => self.audio_mid = Some(Mid::from(mid.as_str())),
                MediaLine::SendVideo {
                    mid,
                    source: VideoSource::Camera,
                } => self.camera.mid = Some(Mid::from(mid.as_str())),
                MediaLine::SendVideo {
                    mid,
                    source: VideoSource::Screen,
                } => self.screen.mid = Some(Mid::from(mid.as_str())),
                _ => {}
            }
        }
        self.video_mids = media
            .iter()
            .filter_map(|l| match l {
                MediaLine::ReceiveVideo { mid, .. } => Some(mid.clone()),
                _ => None,
            })
            .collect();
        self.state.lock().unwrap().media = media;
        answer
    }

    /// When the next frame is due, if anything is being sent.
    fn next_send(&self) -> Option<Instant> {
        let audio = (self.sending.audio_level.is_some() && self.audio_mid.is_some())
            .then_some(self.next_audio);
        let camera =
            (self.sending.video_fps > 0 && self.camera.mid.is_some()).then_some(self.camera.next);
        let screen =
            (self.sending.screen_fps > 0 && self.screen.mid.is_some()).then_some(self.screen.next);
        audio.into_iter().chain(camera).chain(screen).min()
    }

    /// The audio frames due by `now`: tagged synthetic ones, or a tone's real Opus.
    fn send_audio(&mut self, now: Instant) {
        let (Some(level), Some(mid)) = (self.sending.audio_level, self.audio_mid) else {
            return;
        };
        while self.next_audio <= now {
            self.next_audio += Duration::from_millis(20);
            let time = MediaTime::new(self.audio_seq * 960, Frequency::FORTY_EIGHT_KHZ);
            self.audio_seq += 1;
            if self.sending.dtx && level <= -127 && self.audio_seq % 20 != 1 {
                continue;
            }
            let payload = match self.sending.tone_hz {
                Some(hz) => {
                    let start = (self.audio_seq - 1) * 960;
                    let tone: Vec<i16> = (start..start + 960)
                        .map(|i| {
                            (9_830.0
                                * (2.0 * std::f32::consts::PI * hz * i as f32 / 48_000.0).sin())
                                as i16
                        })
                        .collect();
                    self.encoder
                        .encode_vec(&tone, 400)
                        .expect("Opus encodes a tone")
                }
                None => synthetic_audio(self.tag, self.audio_seq),
            };
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
            let _ = writer
                .audio_level(level, level > -127)
                .write(pt, now, time, payload);
        }
    }

    /// The frames of `source` due by `now`: the camera on every simulcast layer asked for, the
    /// screen share as one layer of larger frames.
    fn send_video(&mut self, now: Instant, source: VideoSource) {
        let (fps, simulcast, sizes, line) = match source {
            VideoSource::Camera => (
                self.sending.video_fps,
                self.sending.simulcast,
                (2500, 400),
                &mut self.camera,
            ),
            VideoSource::Screen => (
                self.sending.screen_fps,
                false,
                (9000, 1200),
                &mut self.screen,
            ),
        };
        let Some(mid) = line.mid.filter(|_| fps > 0) else {
            return;
        };
        let interval = Duration::from_secs(1) / fps;
        while line.next <= now {
            line.next += interval;
            let keyframe = line.seq % 30 == 0 || std::mem::take(&mut line.keyframe_wanted);
            let time = MediaTime::new(line.seq * 90_000 / u64::from(fps), Frequency::NINETY_KHZ);
            line.seq += 1;
            let layers: Vec<(Option<&str>, Tag)> = match source {
                VideoSource::Camera if simulcast => ["q", "h", "f"]
                    .iter()
                    .enumerate()
                    .map(|(i, rid)| (Some(*rid), self.tag * 10 + i as Tag))
                    .collect(),
                VideoSource::Camera => vec![(None, self.tag)],
                VideoSource::Screen => vec![(None, self.tag * 10 + 9)],
            };
            for (rid, layer_tag) in layers {
                let Some(mut writer) = self.rtc.writer(mid) else {
                    return;
                };
                let Some(pt) = writer
                    .payload_params()
                    .find(|p| !p.spec().codec.is_audio())
                    .map(|p| p.pt())
                else {
                    return;
                };
                if let Some(rid) = rid {
                    writer = writer.rid(rid.into());
                }
                let len = if keyframe { sizes.0 } else { sizes.1 };
                if let Err(e) = writer.write(pt, now, time, vp8_frame(keyframe, layer_tag, len)) {
                    eprintln!("client {}: video write failed: {e}", self.tag);
                }
            }
        }
    }
}
