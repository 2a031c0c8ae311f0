//! A native client that speaks the real protocol: signaling over a WebSocket, answering the
//! server's offers as a browser would, with a media side per call ([`crate::media`]). The
//! test drives it with requests and waits on its events, roster and media.

use crate::media::{MediaCommand, MediaHandle, MediaState, Receiving, Sending, Tag};
use futures_util::{SinkExt, StreamExt};
use rtcall_protocol::call::{CallId, CallState, EndReason, ParticipantId, StreamId, StreamKind};
use rtcall_protocol::signal::{
    ClientFrame, Event, MediaLine, ParticipantInfo, Reply, Request, ServerFrame, VideoSource,
    WireError, PROTOCOL_VERSION,
};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

/// How long `wait_*` helpers wait before failing the test.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// A connected test client.
pub struct Client {
    pub identity: String,
    pub tag: Tag,
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
    let hello = ClientFrame::new(
        1,
        Request::Hello {
            token: token.into(),
            display_name: "raw".into(),
            version: PROTOCOL_VERSION,
            resume: None,
        },
    );
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
    pub async fn connect(server_url: &str, name: &str, tag: Tag) -> Client {
        Self::connect_receiving(server_url, name, tag, Receiving::Decode).await
    }

    /// [`Client::connect`], taking in its media as `receiving` says.
    pub async fn connect_receiving(
        server_url: &str,
        name: &str,
        tag: Tag,
        receiving: Receiving,
    ) -> Client {
        let (identity, token) = demo_identity(server_url).await;
        Self::open(server_url, (&identity, &token), name, tag, receiving).await
    }

    /// Connects with a given identity and token.
    pub async fn connect_as(
        server_url: &str,
        identity: &str,
        token: &str,
        name: &str,
        tag: Tag,
    ) -> Client {
        Self::open(server_url, (identity, token), name, tag, Receiving::Decode).await
    }

    async fn open(
        server_url: &str,
        (identity, token): (&str, &str),
        name: &str,
        tag: Tag,
        receiving: Receiving,
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
                        let answer =
                            answer_offer(&media, &call_id, (sdp, lines), tag, receiving).await;
                        if let Ok(sdp) = answer {
                            let id = next_id.fetch_add(1, Ordering::Relaxed) | 0x8000_0000;
                            let frame = ClientFrame::new(
                                id,
                                Request::SdpAnswer {
                                    call_id,
                                    version,
                                    sdp,
                                },
                            );
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
                resume: None,
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
                let ping = ClientFrame::new(id, Request::Ping);
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
        let frame = ClientFrame::new(id, request);
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
        self.wait_stream(call, participant, StreamKind::Video).await
    }

    /// Waits for a participant's stream of `kind` to be available; returns its id.
    pub async fn wait_stream(
        &mut self,
        call: &CallId,
        participant: ParticipantId,
        kind: StreamKind,
    ) -> StreamId {
        self.wait_roster(call, |roster| {
            roster.get(&participant).and_then(|p| {
                p.streams
                    .iter()
                    .find(|s| s.available && s.kind == kind)
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
                audio_level,
                video_fps: 15,
                ..Sending::default()
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
            lobby: false,
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
    (sdp, lines): (String, Vec<MediaLine>),
    tag: Tag,
    receiving: Receiving,
) -> Result<String, String> {
    let commands = {
        let mut media = media.lock().unwrap();
        let handle = media
            .entry(call.clone())
            .or_insert_with(|| MediaHandle::spawn(tag, receiving));
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
