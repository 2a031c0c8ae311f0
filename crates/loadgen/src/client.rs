//! A native client that speaks the real protocol: signaling over a WebSocket and media
//! over real UDP with its own str0m `Rtc` (full ICE, answering the server's offers). It sends
//! synthetic Opus frames (with RFC 6464 audio levels) and VP8 frames that carry a tag saying
//! who sent them, and counts what it receives per m-line and per sender tag.

use futures_util::{SinkExt, StreamExt};
use rtcall_protocol::call::{CallId, CallState, EndReason, ParticipantId, StreamId};
use rtcall_protocol::signal::{
    ClientFrame, Event, MediaLine, ParticipantInfo, Reply, Request, ServerFrame, VideoSource,
    WireError, PROTOCOL_VERSION,
};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use str0m::change::SdpOffer;
use str0m::media::{Frequency, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event as RtcEvent, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

/// How long `wait_*` helpers wait before failing the test.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// What one m-line received.
#[derive(Debug, Default, Clone)]
pub struct LineStats {
    pub frames: u64,
    /// RTP packets the frames arrived in.
    pub packets: u64,
    pub keyframes: u64,
    /// Frames per sender tag.
    pub by_tag: HashMap<u8, u64>,
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
    /// The latest offer's line roles.
    pub media: Vec<MediaLine>,
    /// Times the connection was (re)created.
    pub connections: u32,
}

impl MediaState {
    /// Audio frames received from sender `tag`, over all audio lines.
    pub fn audio_from_tag(&self, tag: u8) -> u64 {
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
    pub fn video_from_tag(&self, tag: u8) -> (u64, u64) {
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
}

enum MediaCommand {
    Offer {
        sdp: String,
        media: Vec<MediaLine>,
        answer: oneshot::Sender<Result<String, String>>,
    },
    Send(Sending),
    Stop,
}

/// A connected test client.
pub struct Client {
    pub identity: String,
    pub tag: u8,
    outgoing: mpsc::UnboundedSender<Message>,
    frames: mpsc::UnboundedReceiver<ServerFrame>,
    /// Events received but not yet asked for.
    pub backlog: VecDeque<Event>,
    /// The roster as the events so far tell it, per call.
    pub rosters: HashMap<CallId, HashMap<ParticipantId, ParticipantInfo>>,
    replies: HashMap<u32, Result<Reply, WireError>>,
    next_id: Arc<AtomicU32>,
    media: Arc<Mutex<HashMap<CallId, MediaHandle>>>,
    heartbeat: Arc<std::sync::atomic::AtomicBool>,
}

struct MediaHandle {
    commands: mpsc::UnboundedSender<MediaCommand>,
    state: Arc<Mutex<MediaState>>,
}

/// Creates an identity and token on `server_url` through the demo endpoint.
pub async fn demo_identity(server_url: &str) -> (String, String) {
    let body: serde_json::Value = reqwest::Client::new()
        .post(format!("{server_url}demo/identity"))
        .send()
        .await
        .expect("demo endpoint")
        .json()
        .await
        .expect("json");
    (
        body["identity"]["id"].as_str().unwrap().to_owned(),
        body["accessToken"]["token"].as_str().unwrap().to_owned(),
    )
}

fn ws_url(server_url: &str) -> String {
    format!("{}signal", server_url.replacen("http://", "ws://", 1))
}

/// Opens a WebSocket and sends `hello` with `token`; returns the raw socket and the reply.
pub async fn raw_hello(
    server_url: &str,
    token: &str,
) -> (
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    ServerFrame,
) {
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url(server_url))
        .await
        .expect("websocket connects");
    let hello = ClientFrame {
        id: 1,
        req: Request::Hello {
            token: token.into(),
            display_name: "raw".into(),
            version: PROTOCOL_VERSION,
        },
    };
    ws.send(Message::Text(serde_json::to_string(&hello).unwrap().into()))
        .await
        .unwrap();
    let reply = next_frame(&mut ws).await.expect("a reply to hello");
    (ws, reply)
}

/// The next JSON frame on a raw socket, skipping control messages; `None` once closed.
pub async fn next_frame(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Option<ServerFrame> {
    loop {
        match tokio::time::timeout(DEADLINE, ws.next())
            .await
            .expect("frame in time")
        {
            Some(Ok(Message::Text(text))) => {
                return Some(serde_json::from_str(&text).expect("server frames parse"))
            }
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => continue,
        }
    }
}

impl Client {
    /// Signs in a new demo identity on `server_url` and connects. `tag` marks its media.
    pub async fn connect(server_url: &str, name: &str, tag: u8) -> Client {
        let (identity, token) = demo_identity(server_url).await;
        Self::connect_as(server_url, &identity, &token, name, tag).await
    }

    /// Connects with a given identity and token.
    pub async fn connect_as(
        server_url: &str,
        identity: &str,
        token: &str,
        name: &str,
        tag: u8,
    ) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(ws_url(server_url))
            .await
            .expect("websocket connects");
        let (mut sink, mut stream) = ws.split();
        let (outgoing, mut outgoing_rx) = mpsc::unbounded_channel::<Message>();
        tokio::spawn(async move {
            while let Some(message) = outgoing_rx.recv().await {
                if sink.send(message).await.is_err() {
                    break;
                }
            }
            let _ = sink.close().await;
        });
        let (frames_tx, frames) = mpsc::unbounded_channel();
        let media: Arc<Mutex<HashMap<CallId, MediaHandle>>> = Arc::default();
        let next_id = Arc::new(AtomicU32::new(1));
        {
            // Offers are answered here, without the test's involvement, as a browser would.
            let media = Arc::clone(&media);
            let outgoing = outgoing.clone();
            let next_id = Arc::clone(&next_id);
            tokio::spawn(async move {
                while let Some(Ok(message)) = stream.next().await {
                    let Message::Text(text) = message else {
                        continue;
                    };
                    let frame: ServerFrame =
                        serde_json::from_str(&text).expect("server frames parse");
                    if let Some(Event::SdpOffer {
                        call_id,
                        version,
                        sdp,
                        media: lines,
                    }) = frame.ev.clone()
                    {
                        let answer = answer_offer(&media, &call_id, sdp, lines, tag).await;
                        if let Ok(sdp) = answer {
                            let id = next_id.fetch_add(1, Ordering::Relaxed) | 0x8000_0000;
                            let frame = ClientFrame {
                                id,
                                req: Request::SdpAnswer {
                                    call_id,
                                    version,
                                    sdp,
                                },
                            };
                            let _ = outgoing
                                .send(Message::Text(serde_json::to_string(&frame).unwrap().into()));
                        }
                        continue;
                    }
                    // Replies to the automatic answers and pings are not the test's business.
                    if frame.re.is_some_and(|re| re & 0x8000_0000 != 0) {
                        if let Some(err) = frame.err {
                            panic!("the server refused an SDP answer: {err:?}");
                        }
                        continue;
                    }
                    if frames_tx.send(frame).is_err() {
                        break;
                    }
                }
            });
        }
        let mut client = Client {
            identity: identity.to_owned(),
            tag,
            outgoing,
            frames,
            backlog: VecDeque::new(),
            rosters: HashMap::new(),
            replies: HashMap::new(),
            next_id,
            media,
            heartbeat: Arc::new(std::sync::atomic::AtomicBool::new(true)),
        };
        let welcome = client
            .request(Request::Hello {
                token: token.into(),
                display_name: name.into(),
                version: PROTOCOL_VERSION,
            })
            .await;
        let Ok(Reply::Welcome {
            heartbeat_interval_ms,
            ..
        }) = welcome
        else {
            panic!("hello refused: {welcome:?}");
        };
        // Keep the connection alive as a browser client does (replies are filtered out).
        let outgoing = client.outgoing.clone();
        let next_id = Arc::clone(&client.next_id);
        let beating = Arc::clone(&client.heartbeat);
        tokio::spawn(async move {
            let interval = Duration::from_millis(u64::from(heartbeat_interval_ms));
            loop {
                tokio::time::sleep(interval).await;
                if !beating.load(Ordering::Relaxed) {
                    break;
                }
                let id = next_id.fetch_add(1, Ordering::Relaxed) | 0x8000_0000;
                let ping = ClientFrame {
                    id,
                    req: Request::Ping,
                };
                if outgoing
                    .send(Message::Text(serde_json::to_string(&ping).unwrap().into()))
                    .is_err()
                {
                    break;
                }
            }
        });
        client
    }

    fn send_frame(&self, id: u32, request: Request) {
        let frame = ClientFrame { id, req: request };
        let _ = self
            .outgoing
            .send(Message::Text(serde_json::to_string(&frame).unwrap().into()));
    }

    /// Sends a request and waits for its reply.
    pub async fn request(&mut self, request: Request) -> Result<Reply, WireError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.send_frame(id, request);
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(reply) = self.replies.remove(&id) {
                return reply;
            }
            self.pump_until(deadline).await;
        }
    }

    /// Sends a request that must succeed.
    pub async fn ok(&mut self, request: Request) {
        let reply = self.request(request.clone()).await;
        assert_eq!(reply, Ok(Reply::Done), "{request:?}");
    }

    /// Receives one frame into the backlog or replies.
    async fn pump_until(&mut self, deadline: Instant) {
        let left = deadline.saturating_duration_since(Instant::now());
        let frame = tokio::time::timeout(left, self.frames.recv())
            .await
            .unwrap_or_else(|_| panic!("{}: timed out; backlog {:?}", self.identity, self.backlog))
            .expect("connection open");
        if let Some(re) = frame.re {
            let reply = match (frame.ok, frame.err) {
                (Some(ok), _) => Ok(ok),
                (_, Some(err)) => Err(err),
                _ => panic!("empty reply"),
            };
            self.replies.insert(re, reply);
        } else if let Some(ev) = frame.ev {
            if let Event::Participants {
                call_id,
                upsert,
                removed,
            } = &ev
            {
                let roster = self.rosters.entry(call_id.clone()).or_default();
                for p in upsert {
                    roster.insert(p.participant_id, p.clone());
                }
                for r in removed {
                    roster.remove(&r.participant_id);
                }
            }
            self.backlog.push_back(ev);
        }
    }

    /// Waits for (and removes) the first event matching `want`.
    pub async fn wait_event<T>(&mut self, mut want: impl FnMut(&Event) -> Option<T>) -> T {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(i) = self.backlog.iter().position(|e| want(e).is_some()) {
                let event = self.backlog.remove(i).expect("exists");
                return want(&event).expect("matched");
            }
            self.pump_until(deadline).await;
        }
    }

    /// Waits until this endpoint's call reaches `state`; returns its end reason.
    pub async fn wait_call_state(&mut self, call: &CallId, state: CallState) -> Option<EndReason> {
        self.wait_event(|e| match e {
            Event::CallState {
                call_id,
                state: s,
                end_reason,
                ..
            } if call_id == call && *s == state => Some(*end_reason),
            _ => None,
        })
        .await
    }

    /// Hangs up (for itself) and waits for the call to end; returns its end reason.
    pub async fn hang_up(&mut self, call: &CallId) -> Option<EndReason> {
        self.ok(Request::HangUp {
            call_id: call.clone(),
            for_everyone: false,
        })
        .await;
        self.wait_call_state(call, CallState::Disconnected).await
    }

    /// Waits for an incoming call; returns its id and the caller.
    pub async fn wait_incoming(&mut self) -> (CallId, String) {
        self.wait_event(|e| match e {
            Event::IncomingCall {
                call_id, caller, ..
            } => Some((call_id.clone(), caller.clone())),
            _ => None,
        })
        .await
    }

    /// Waits until the roster of `call` satisfies `check`, which returns what it found.
    pub async fn wait_roster<T>(
        &mut self,
        call: &CallId,
        check: impl Fn(&HashMap<ParticipantId, ParticipantInfo>) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(found) = self.rosters.get(call).and_then(&check) {
                return found;
            }
            self.pump_until(deadline).await;
        }
    }

    /// Waits for `identity` to be in the roster of `call` in `state`; returns its participant id.
    pub async fn wait_participant(
        &mut self,
        call: &CallId,
        identity: &str,
        state: rtcall_protocol::call::ParticipantState,
    ) -> ParticipantId {
        self.wait_roster(call, |roster| {
            roster
                .values()
                .find(|p| p.identity == identity && p.state == state)
                .map(|p| p.participant_id)
        })
        .await
    }

    /// Waits for a participant's camera stream to be available; returns its id.
    pub async fn wait_camera(&mut self, call: &CallId, participant: ParticipantId) -> StreamId {
        self.wait_roster(call, |roster| {
            roster.get(&participant).and_then(|p| {
                p.streams
                    .iter()
                    .find(|s| s.available && s.kind == rtcall_protocol::call::StreamKind::Video)
                    .map(|s| s.stream_id)
            })
        })
        .await
    }

    /// The media state of a call.
    pub fn media(&self, call: &CallId) -> Arc<Mutex<MediaState>> {
        Arc::clone(
            &self
                .media
                .lock()
                .unwrap()
                .get(call)
                .expect("media for the call")
                .state,
        )
    }

    /// Waits until `check` holds on the call's media state.
    pub async fn wait_media(&self, call: &CallId, what: &str, check: impl Fn(&MediaState) -> bool) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let holds = self
                .media
                .lock()
                .unwrap()
                .get(call)
                .is_some_and(|m| check(&m.state.lock().unwrap()));
            if holds {
                return;
            }
            if Instant::now() > deadline {
                let state = self
                    .media
                    .lock()
                    .unwrap()
                    .get(call)
                    .map(|m| format!("{:?}", m.state.lock().unwrap()));
                panic!(
                    "{}: {what} did not happen in time; media: {state:?}",
                    self.identity
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sets what the media side sends in a call.
    pub fn send(&self, call: &CallId, sending: Sending) {
        let media = self.media.lock().unwrap();
        let handle = media.get(call).expect("media for the call");
        let _ = handle.commands.send(MediaCommand::Send(sending));
    }

    /// Stops the media side of a call (as a closed tab would).
    pub fn stop_media(&self, call: &CallId) {
        if let Some(handle) = self.media.lock().unwrap().remove(call) {
            let _ = handle.commands.send(MediaCommand::Stop);
        }
    }

    /// Starts the camera: announces it and sends frames.
    pub async fn start_camera(&mut self, call: &CallId, audio_level: Option<i8>) {
        self.send(
            call,
            Sending {
                simulcast: false,
                audio_level,
                video_fps: 15,
                tone_hz: None,
            },
        );
        self.ok(Request::SetVideo {
            call_id: call.clone(),
            source: VideoSource::Camera,
            on: true,
        })
        .await;
    }

    /// Calls `callee`, who answers as soon as it rings; returns once both are `Connected`.
    pub async fn call_and_answer(&mut self, callee: &mut Client) -> CallId {
        let call = CallId(uuid::Uuid::new_v4().to_string());
        self.ok(Request::StartCall {
            call_id: call.clone(),
            targets: vec![callee.identity.clone()],
            muted: false,
            alternate_caller_id: None,
        })
        .await;
        callee.wait_incoming().await;
        callee
            .ok(Request::Accept {
                call_id: call.clone(),
                muted: false,
            })
            .await;
        callee.wait_call_state(&call, CallState::Connected).await;
        self.wait_call_state(&call, CallState::Connected).await;
        call
    }

    /// Joins the group call `call` and waits until `Connected`.
    pub async fn join_group(&mut self, call: &CallId) {
        self.ok(Request::JoinGroup {
            group_id: call.0.clone(),
            muted: false,
        })
        .await;
        self.wait_call_state(call, CallState::Connected).await;
    }

    /// Stops sending heartbeats (the connection stays open), as a frozen client would.
    pub fn stop_heartbeat(&self) {
        self.heartbeat.store(false, Ordering::Relaxed);
    }

    /// Closes the WebSocket abruptly-ish (no hang up), as a closed tab would.
    pub fn vanish(self) {
        for (_, handle) in self.media.lock().unwrap().drain() {
            let _ = handle.commands.send(MediaCommand::Stop);
        }
        let _ = self.outgoing.send(Message::Close(None));
    }
}

async fn answer_offer(
    media: &Arc<Mutex<HashMap<CallId, MediaHandle>>>,
    call: &CallId,
    sdp: String,
    lines: Vec<MediaLine>,
    tag: u8,
) -> Result<String, String> {
    let commands = {
        let mut media = media.lock().unwrap();
        let handle = media.entry(call.clone()).or_insert_with(|| {
            let (commands, rx) = mpsc::unbounded_channel();
            let state = Arc::new(Mutex::new(MediaState::default()));
            tokio::spawn(media_task(rx, Arc::clone(&state), tag));
            MediaHandle { commands, state }
        });
        handle.commands.clone()
    };
    let (answer, rx) = oneshot::channel();
    commands
        .send(MediaCommand::Offer {
            sdp,
            media: lines,
            answer,
        })
        .map_err(|_| "media task gone".to_owned())?;
    rx.await.map_err(|_| "media task gone".to_owned())?
}

/// A VP8 frame str0m parses: a frame tag (keyframe or not), the keyframe start code and size,
/// then the sender's tag and padding.
fn vp8_frame(keyframe: bool, tag: u8, len: usize) -> Vec<u8> {
    let mut frame = if keyframe {
        vec![0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01]
    } else {
        vec![0x11, 0x02, 0x00]
    };
    frame.push(tag);
    frame.resize(len, tag);
    frame
}

/// The sender tag inside a received frame: first byte for audio, after the VP8 header for video.
fn tag_of(data: &[u8], video: bool) -> Option<u8> {
    if !video {
        return data.first().copied();
    }
    let keyframe = data.first()? & 0x01 == 0;
    data.get(if keyframe { 10 } else { 3 }).copied()
}

async fn media_task(
    mut commands: mpsc::UnboundedReceiver<MediaCommand>,
    state: Arc<Mutex<MediaState>>,
    tag: u8,
) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("client udp");
    let local: SocketAddr = socket.local_addr().unwrap();
    let start = Instant::now();
    let mut rtc = Rtc::builder()
        .clear_codecs()
        .enable_opus(true, false)
        .enable_vp8(true)
        .build(start);
    rtc.add_local_candidate(Candidate::host(local, "udp").unwrap());
    state.lock().unwrap().connections += 1;
    let mut send_mids: (Option<Mid>, Option<Mid>) = (None, None);
    let mut video_mids: Vec<String> = Vec::new();
    let mut sending = Sending::default();
    let mut audio_seq: u64 = 0;
    let mut video_seq: u64 = 0;
    let mut keyframe_wanted = false;
    let mut encoder = opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip)
        .expect("an Opus encoder");
    let mut decoders: HashMap<String, opus::Decoder> = HashMap::new();
    let mut pcm = vec![0i16; 5760];
    let mut next_audio = start;
    let mut next_video = start;
    let mut buf = vec![0u8; 2048];
    loop {
        // Drain str0m.
        let timeout = loop {
            match rtc.poll_output() {
                Ok(Output::Transmit(t)) => {
                    let _ = socket.send_to(&t.contents, t.destination).await;
                }
                Ok(Output::Timeout(at)) => break at,
                Ok(Output::Event(event)) => match event {
                    RtcEvent::Connected => state.lock().unwrap().connected = true,
                    RtcEvent::KeyframeRequest(_) => keyframe_wanted = true,
                    RtcEvent::MediaData(data) => {
                        let mid = data.mid.to_string();
                        let video = video_mids.contains(&mid);
                        let now = Instant::now();
                        let mut state = state.lock().unwrap();
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
                            // Synthetic frames from other test clients decode as noise or not
                            // at all; only lines carrying real Opus give a meaningful level.
                            let decoder =
                                decoders.entry(data.mid.to_string()).or_insert_with(|| {
                                    opus::Decoder::new(48_000, opus::Channels::Mono)
                                        .expect("an Opus decoder")
                                });
                            if let Ok(n) = decoder.decode(&data.data, &mut pcm, false) {
                                let square: f64 = pcm[..n]
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
                    _ => {}
                },
                Err(e) => {
                    eprintln!("client {tag} media failed: {e}");
                    return;
                }
            }
        };
        let now = Instant::now();
        let mut wake = timeout;
        if sending.audio_level.is_some() && send_mids.0.is_some() {
            wake = wake.min(next_audio);
        }
        if sending.video_fps > 0 && send_mids.1.is_some() {
            wake = wake.min(next_video);
        }
        tokio::select! {
            received = socket.recv_from(&mut buf) => {
                if let Ok((n, source)) = received {
                    if let Ok(contents) = buf[..n].try_into() {
                        let input = Input::Receive(Instant::now(), Receive { proto: Protocol::Udp, source, destination: local, contents });
                        let _ = rtc.handle_input(input);
                    }
                }
            }
            command = commands.recv() => match command {
                Some(MediaCommand::Offer { sdp, media, answer }) => {
                    let result = SdpOffer::from_sdp_string(&sdp)
                        .map_err(|e| e.to_string())
                        .and_then(|offer| rtc.sdp_api().accept_offer(offer).map_err(|e| e.to_string()))
                        .map(|answer| answer.to_sdp_string());
                    for line in &media {
                        match line {
                            MediaLine::SendAudio { mid } => send_mids.0 = Some(Mid::from(mid.as_str())),
                            MediaLine::SendVideo { mid, source: VideoSource::Camera } => send_mids.1 = Some(Mid::from(mid.as_str())),
                            _ => {}
                        }
                    }
                    video_mids = media.iter().filter_map(|l| match l {
                        MediaLine::ReceiveVideo { mid, .. } => Some(mid.clone()),
                        _ => None,
                    }).collect();
                    state.lock().unwrap().media = media;
                    let _ = answer.send(result);
                }
                Some(MediaCommand::Send(s)) => {
                    sending = s;
                    next_audio = Instant::now();
                    next_video = Instant::now();
                }
                Some(MediaCommand::Stop) | None => return,
            },
            _ = tokio::time::sleep_until(wake.max(now).into()) => {}
        }
        let now = Instant::now();
        let _ = rtc.handle_input(Input::Timeout(now));
        if !rtc.is_connected() {
            continue;
        }
        if let (Some(level), Some(mid)) = (sending.audio_level, send_mids.0) {
            while next_audio <= now {
                next_audio += Duration::from_millis(20);
                let time = MediaTime::new(audio_seq * 960, Frequency::FORTY_EIGHT_KHZ);
                audio_seq += 1;
                if let Some(writer) = rtc.writer(mid) {
                    let pt = writer
                        .payload_params()
                        .find(|p| p.spec().codec.is_audio())
                        .map(|p| p.pt());
                    if let Some(pt) = pt {
                        let payload = match sending.tone_hz {
                            Some(hz) => {
                                let start = (audio_seq - 1) * 960;
                                let tone: Vec<i16> = (start..start + 960)
                                    .map(|i| {
                                        (9_830.0
                                            * (2.0 * std::f32::consts::PI * hz * i as f32
                                                / 48_000.0)
                                                .sin())
                                            as i16
                                    })
                                    .collect();
                                encoder.encode_vec(&tone, 400).expect("Opus encodes a tone")
                            }
                            None => {
                                let mut payload = vec![tag; 40];
                                payload[1] = (audio_seq % 256) as u8;
                                payload
                            }
                        };
                        let _ = writer
                            .audio_level(level, level > -127)
                            .write(pt, now, time, payload);
                    }
                }
            }
        }
        if let (true, Some(mid)) = (sending.video_fps > 0, send_mids.1) {
            let interval = Duration::from_secs(1) / sending.video_fps;
            while next_video <= now {
                next_video += interval;
                let keyframe = video_seq % 30 == 0 || std::mem::take(&mut keyframe_wanted);
                let time = MediaTime::new(
                    video_seq * 90_000 / u64::from(sending.video_fps),
                    Frequency::NINETY_KHZ,
                );
                video_seq += 1;
                let layers: Vec<(Option<&str>, u8)> = if sending.simulcast {
                    ["q", "h", "f"]
                        .iter()
                        .enumerate()
                        .map(|(i, rid)| (Some(*rid), tag * 10 + i as u8))
                        .collect()
                } else {
                    vec![(None, tag)]
                };
                for (rid, layer_tag) in layers {
                    let Some(mut writer) = rtc.writer(mid) else {
                        break;
                    };
                    let pt = writer
                        .payload_params()
                        .find(|p| !p.spec().codec.is_audio())
                        .map(|p| p.pt());
                    let Some(pt) = pt else { break };
                    if let Some(rid) = rid {
                        writer = writer.rid(rid.into());
                    }
                    let len = if keyframe { 2500 } else { 400 };
                    if let Err(e) = writer.write(pt, now, time, vp8_frame(keyframe, layer_tag, len))
                    {
                        eprintln!("client {tag}: video write failed: {e}");
                    }
                }
            }
        }
    }
}
