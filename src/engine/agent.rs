//! The call agent's core: the signaling session (hello, heartbeat, reconnect with backoff,
//! resume), the requests in flight, and every call's state and roster as the server reports them.
//!
//! A lost socket does not end the calls. The agent reconnects and resumes its session with the
//! secret of its last welcome: the service replays what it missed and it sends again what the
//! service did not take, so the app sees nothing but `connectionStateChanged`. If the session
//! cannot be resumed (the service restarted) the agent starts a new one and joins its group
//! calls again; its other calls end as lost to the network (496/7), and so do all of them if it
//! stays away longer than the window the service keeps them for.
//!
//! A sans-IO state machine in the style of str0m: the shell feeds it the socket's life and
//! frames, commands from the API and the time, and drains [`Output`]s until it gets
//! [`Output::Timeout`]:
//!
//! ```
//! use rtcall::engine::agent::{Agent, Output};
//!
//! let mut agent = Agent::new("Ada".into(), 0);
//! loop {
//!     match agent.poll_output() {
//!         Output::Connect => { /* open a WebSocket, fetch a token, call handle_open(now, token) */ }
//!         Output::Send(frame) => { /* socket.send(json(frame)) */ }
//!         Output::Close => { /* close the socket */ }
//!         Output::Leave => { /* close the socket with code 1000 */ }
//!         Output::Event(event) => { /* update the JS objects, fire their events */ }
//!         Output::Timeout(at) => { /* call handle_timeout(at) then */ break; }
//!     }
//! }
//! ```
//!
//! Times are milliseconds since the Unix epoch (the browser's `Date.now()`).

use super::call::{CallChange, CallModel};
use super::requests::Requests;
pub use super::requests::REQUEST_TIMEOUT;
use super::wire::{Incoming, Outgoing};
use rtcall_protocol::call::{CallId, CallState, EndReason, StreamId};
use rtcall_protocol::features::RawJson;
use rtcall_protocol::signal::{
    ErrorKind, IceServer, MediaLine, Reply, RequestId, Resume, VideoSource, WireError,
    PROTOCOL_VERSION,
};

/// A request as the browser core sends it (a feature's, as its own JSON text).
pub type Request = rtcall_protocol::signal::Request<RawJson>;
type Event = rtcall_protocol::signal::Event<RawJson>;
use std::collections::{BTreeMap, HashMap, VecDeque};

/// Milliseconds since the Unix epoch.
pub type Millis = u64;

/// Reconnection delays: doubling from the first, up to the first maximum while a session can
/// be resumed (its calls are waiting) and the second otherwise.
pub const RECONNECT_FIRST: Millis = 250;
pub const RECONNECT_MAX_RESUMING: Millis = 2_000;
pub const RECONNECT_MAX: Millis = 16_000;
/// A socket that has not opened after this long is given up (a connection attempt into a dead
/// network can hang for minutes).
pub const OPEN_TIMEOUT: Millis = 5_000;
/// A socket that brought nothing (not even a pong) for this many heartbeats, plus a second,
/// is taken for lost.
const SILENT_HEARTBEATS: Millis = 2;

/// `CallAgent.connectionState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// Signed in to the service.
    Connected,
    /// Not (yet, or any more).
    Disconnected,
}

impl ConnectionState {
    /// As JavaScript spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Connected => "Connected",
            ConnectionState::Disconnected => "Disconnected",
        }
    }
}

/// Why the connection state changed (`connectionStateChanged` `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionReason {
    /// The token was refused; the agent stops trying.
    InvalidToken,
    /// The network or service went away; the agent keeps trying.
    ConnectionIssue,
}

impl ConnectionReason {
    /// As JavaScript spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionReason::InvalidToken => "invalidToken",
            ConnectionReason::ConnectionIssue => "connectionIssue",
        }
    }
}

/// An incoming call, ringing here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingModel {
    /// The call.
    pub call_id: CallId,
    /// The caller's raw id.
    pub caller: String,
    /// The caller's display name.
    pub caller_display_name: String,
}

/// What happened, for the shell to show.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentEvent {
    /// The service accepted the sign-in (first time or after a reconnect).
    SignedIn {
        /// The identity's raw id.
        identity: String,
        /// TURN servers to add.
        ice_servers: Vec<IceServer>,
    },
    /// The service refused the sign-in.
    Refused(WireError),
    /// `connectionState` changed.
    ConnectionChanged {
        /// New state.
        new: ConnectionState,
        /// Old state.
        old: ConnectionState,
        /// Why, when it dropped.
        reason: Option<ConnectionReason>,
    },
    /// The service restarted and the group call is being joined again: its media connection
    /// must be made anew (the call object, its participants and its streams stay).
    Rejoined {
        /// The call.
        call_id: CallId,
    },
    /// The other side of the 1:1 call `call_id` handed it over: this endpoint is in the call
    /// `target_call_id` already, calling `target` (raw id).
    Transferred {
        /// The call handed over.
        call_id: CallId,
        /// The new call.
        target_call_id: CallId,
        /// Whom it calls.
        target: String,
    },
    /// A call rings here.
    IncomingCall(IncomingModel),
    /// It stopped ringing.
    IncomingCallEnded {
        /// The call.
        call_id: CallId,
        /// Why.
        reason: EndReason,
    },
    /// Something about a call changed.
    Call {
        /// The call.
        call_id: CallId,
        /// What.
        change: CallChange,
    },
    /// An offer to answer.
    SdpOffer {
        /// The call.
        call_id: CallId,
        /// Its version.
        version: u32,
        /// The SDP.
        sdp: String,
        /// What each line carries.
        media: Vec<MediaLine>,
    },
    /// A request finished.
    Replied {
        /// The request.
        request: RequestId,
        /// Its outcome.
        result: Result<Reply, WireError>,
    },
}

/// What the agent wants done.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Open a new WebSocket to the service and call [`Agent::handle_open`] with a token.
    Connect,
    /// Send this frame.
    Send(Outgoing),
    /// Close the socket (it is broken or not wanted; the session may be resumed).
    Close,
    /// Close the socket saying goodbye (a normal close): the session ends with it.
    Leave,
    /// Something happened.
    Event(AgentEvent),
    /// Nothing until this time (or an input).
    Timeout(Millis),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Session {
    /// No socket; reconnect at the time, if any.
    Offline { retry_at: Option<Millis> },
    /// The shell is opening a socket, which must open by the deadline.
    Opening { deadline: Millis },
    /// Socket open, hello sent, to be answered by the deadline.
    Greeting { hello: RequestId, deadline: Millis },
    /// Signed in.
    Ready,
    /// Disposed: nothing more.
    Disposed,
}

/// What resumes the session: from the last welcome.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ticket {
    endpoint_id: String,
    secret: String,
    /// How long the service keeps the session after its socket is lost.
    window: Millis,
    /// When the socket was last heard from before it was lost.
    lost_at: Option<Millis>,
}

/// The agent. See the module docs.
#[derive(Debug)]
pub struct Agent {
    display_name: String,
    session: Session,
    connection: ConnectionState,
    failures: u32,
    heartbeat: Millis,
    next_ping: Option<Millis>,
    /// When the socket last brought a frame.
    last_heard: Millis,
    requests: Requests,
    /// The session to resume, if any.
    ticket: Option<Ticket>,
    /// The last frame number received on this session.
    last_seq: u64,
    /// The token of a resuming hello, for a new hello if the session cannot be resumed.
    token: Option<String>,
    /// The calls are of a session the service no longer has, and may be joined again on a new
    /// one until this time.
    orphaned: Option<Millis>,
    /// Requests joining group calls again after a new session, by call.
    rejoins: BTreeMap<RequestId, CallId>,
    calls: HashMap<CallId, CallModel>,
    incoming: HashMap<CallId, IncomingModel>,
    outputs: VecDeque<Output>,
    now: Millis,
    /// The call whose event is being applied. Still set if that panicked (the browser's panics
    /// unwind nothing): [`Agent::recover`] ends that call.
    applying: Option<CallId>,
}

impl Agent {
    /// A new agent, asking to connect at once.
    pub fn new(display_name: String, now: Millis) -> Self {
        let mut agent = Agent {
            display_name,
            session: Session::Opening {
                deadline: now + OPEN_TIMEOUT,
            },
            connection: ConnectionState::Disconnected,
            failures: 0,
            heartbeat: 3000,
            next_ping: None,
            last_heard: now,
            requests: Requests::default(),
            ticket: None,
            last_seq: 0,
            token: None,
            orphaned: None,
            rejoins: BTreeMap::new(),
            calls: HashMap::new(),
            incoming: HashMap::new(),
            outputs: VecDeque::new(),
            now,
            applying: None,
        };
        agent.outputs.push_back(Output::Connect);
        agent
    }

    /// The display name given at creation.
    pub fn display_name(&self) -> &str {
        &self.display_name
    }

    /// `connectionState`.
    pub fn connection_state(&self) -> ConnectionState {
        self.connection
    }

    /// A call's model.
    pub fn call(&self, call_id: &CallId) -> Option<&CallModel> {
        self.calls.get(call_id)
    }

    /// An incoming call.
    pub fn incoming(&self, call_id: &CallId) -> Option<&IncomingModel> {
        self.incoming.get(call_id)
    }

    /// The next output. Drain until [`Output::Timeout`].
    #[must_use]
    pub fn poll_output(&mut self) -> Output {
        if let Some(output) = self.outputs.pop_front() {
            return output;
        }
        let session = match self.session {
            Session::Offline { retry_at } => retry_at,
            Session::Ready => Some(self.silence_deadline()),
            Session::Opening { deadline } | Session::Greeting { deadline, .. } => Some(deadline),
            Session::Disposed => None,
        };
        let window = self.window_end();
        let stale = self
            .calls
            .values()
            .filter_map(CallModel::stale_deadline)
            .min();
        let next = [
            session,
            self.next_ping,
            self.requests.deadline(),
            window,
            stale,
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(Millis::MAX);
        Output::Timeout(next)
    }

    /// When the calls of a lost session end, unless it is resumed (or, orphaned, joined again)
    /// before.
    fn window_end(&self) -> Option<Millis> {
        let resumable = self
            .ticket
            .as_ref()
            .and_then(|t| Some(t.lost_at? + t.window));
        resumable.or(self.orphaned.filter(|_| self.session != Session::Ready))
    }

    /// When a silent socket is taken for lost.
    fn silence_deadline(&self) -> Millis {
        self.last_heard + SILENT_HEARTBEATS * self.heartbeat + 1000
    }

    // ---- socket life ----

    /// The socket opened; `token` is a fresh access token. Sends hello, resuming the session
    /// if there is one.
    pub fn handle_open(&mut self, now: Millis, token: String) {
        self.now = now;
        if !matches!(self.session, Session::Opening { .. }) {
            return;
        }
        self.last_heard = now;
        self.send_hello(token);
    }

    fn send_hello(&mut self, token: String) {
        let resume = self.ticket.as_ref().map(|t| Resume {
            endpoint_id: t.endpoint_id.clone(),
            secret: t.secret.clone(),
            last_seq: self.last_seq,
        });
        self.token = resume.is_some().then(|| token.clone());
        let hello = self.requests.next_id();
        self.session = Session::Greeting {
            hello,
            deadline: self.now + REQUEST_TIMEOUT,
        };
        self.transmit(Outgoing {
            id: hello,
            req: Request::Hello {
                token,
                display_name: self.display_name.clone(),
                version: PROTOCOL_VERSION,
                resume,
            },
            ack: None,
        });
    }

    /// The socket could not open, or closed.
    pub fn handle_closed(&mut self, now: Millis) {
        self.now = now;
        if matches!(self.session, Session::Disposed | Session::Offline { .. }) {
            return;
        }
        self.go_offline(Some(ConnectionReason::ConnectionIssue));
    }

    /// A frame arrived. (The shell drops frames it cannot read, as a newer server's
    /// extensions.)
    pub fn handle_frame(&mut self, now: Millis, frame: Incoming) {
        self.now = now;
        self.last_heard = now;
        if let Some(seq) = frame.seq {
            if seq <= self.last_seq {
                // Had already (a replay overlapping what arrived).
                return;
            }
            self.last_seq = seq;
        }
        // An error that answers no request while greeting refuses the hello (a server that
        // could not read the hello's id cannot echo it).
        let re = match (frame.re, &frame.err, self.session) {
            (None, Some(_), Session::Greeting { hello, .. }) => Some(hello),
            (re, _, _) => re,
        };
        if let Some(re) = re {
            self.handle_reply(re, frame.ok, frame.err);
        } else if let Some(err) = frame.err {
            // An error with no request: the server could not read something we sent.
            self.event(AgentEvent::Replied {
                request: 0,
                result: Err(err),
            });
        }
        if let Some(event) = frame.ev {
            self.handle_event(event);
        }
    }

    /// Time passed: pings, silence, request timeouts, reconnects, the resume window.
    pub fn handle_timeout(&mut self, now: Millis) {
        self.now = now;
        match self.session {
            Session::Offline { retry_at: Some(at) } if now >= at => self.open(),
            // A socket that does not open, no welcome in time, or a socket gone silent: the
            // connection is broken.
            Session::Opening { deadline } | Session::Greeting { deadline, .. }
                if now >= deadline =>
            {
                self.lose_socket()
            }
            Session::Ready if now >= self.silence_deadline() => self.lose_socket(),
            _ => {}
        }
        if self.next_ping.is_some_and(|at| now >= at) {
            self.next_ping = Some(now + self.heartbeat);
            let ping = self.requests.frame(Request::Ping);
            self.transmit(ping);
        }
        for id in self.requests.expired(now) {
            if let Some(call_id) = self.rejoins.remove(&id) {
                self.end_locally(&call_id, EndReason::NETWORK_LOST);
                continue;
            }
            self.event(AgentEvent::Replied {
                request: id,
                result: Err(WireError::new(
                    ErrorKind::Internal,
                    "the service did not answer in time",
                )),
            });
        }
        let window = self.window_end();
        if window.is_some_and(|end| now >= end) {
            // The service has let the session go: so does the agent.
            self.ticket = None;
            self.session_over(EndReason::NETWORK_LOST);
            if matches!(self.session, Session::Greeting { .. }) {
                // That hello resumes what is no more: start afresh.
                self.outputs.push_back(Output::Close);
                self.open();
            }
        }
        let mut stale = Vec::new();
        for (call_id, call) in &mut self.calls {
            for change in call.expire_stale(now) {
                stale.push(AgentEvent::Call {
                    call_id: call_id.clone(),
                    change,
                });
            }
        }
        for event in stale {
            self.event(event);
        }
    }

    /// Asks the shell for a new socket.
    fn open(&mut self) {
        self.session = Session::Opening {
            deadline: self.now + OPEN_TIMEOUT,
        };
        self.outputs.push_back(Output::Connect);
    }

    /// Closes a broken socket and goes offline to reconnect.
    fn lose_socket(&mut self) {
        self.outputs.push_back(Output::Close);
        self.go_offline(Some(ConnectionReason::ConnectionIssue));
    }

    /// Stops everything: calls end, the socket closes, no reconnects.
    pub fn dispose(&mut self) {
        self.shut_down(EndReason::HUNG_UP);
    }

    /// Stops everything, the calls ending with `reason`.
    fn shut_down(&mut self, reason: EndReason) {
        if self.session == Session::Disposed {
            return;
        }
        let mut calls: Vec<CallId> = self.calls.keys().cloned().collect();
        calls.sort();
        for call_id in calls {
            if self.session == Session::Ready {
                let hang_up = self.requests.frame(Request::HangUp {
                    call_id: call_id.clone(),
                    for_everyone: false,
                });
                self.transmit(hang_up);
            }
            self.end_locally(&call_id, reason);
        }
        // A goodbye, not a loss: the service ends the endpoint's calls now and the others see
        // it leave, instead of reconnecting for the window.
        self.outputs.push_back(Output::Leave);
        self.ticket = None;
        self.orphaned = None;
        self.rejoins.clear();
        let failed = self.requests.fail_all();
        self.fail(failed);
        self.session = Session::Disposed;
        self.next_ping = None;
        self.set_connection(ConnectionState::Disconnected, None);
    }

    // ---- commands (each returns the request id its outcome is reported under) ----

    /// Starts a call to raw ids; `caller_id` is the number phones see.
    pub fn start_call(
        &mut self,
        call_id: CallId,
        targets: Vec<String>,
        muted: bool,
        caller_id: Option<String>,
    ) -> RequestId {
        self.calls.insert(
            call_id.clone(),
            CallModel::new(call_id.clone(), CallState::None, muted),
        );
        self.request(Request::StartCall {
            call_id,
            targets,
            muted,
            alternate_caller_id: caller_id,
        })
    }

    /// Joins a group call; `lobby`: if this join makes it, later joiners wait in its lobby.
    pub fn join_group(&mut self, group_id: String, muted: bool, lobby: bool) -> RequestId {
        let call_id = CallId(group_id.clone());
        let mut call = CallModel::new(call_id.clone(), CallState::None, muted);
        call.group = true;
        call.lobby = lobby;
        self.calls.insert(call_id, call);
        self.request(Request::JoinGroup {
            group_id,
            muted,
            lobby,
        })
    }

    /// Accepts a ringing call.
    pub fn accept(&mut self, call_id: CallId, muted: bool) -> RequestId {
        self.incoming.remove(&call_id);
        self.calls.insert(
            call_id.clone(),
            CallModel::new(call_id.clone(), CallState::Connecting, muted),
        );
        self.request(Request::Accept { call_id, muted })
    }

    /// Any other request about a call.
    pub fn request(&mut self, request: Request) -> RequestId {
        let frame = self.requests.frame(request);
        let id = frame.id;
        if self.session == Session::Ready {
            self.requests.sent(self.now, frame.clone());
            self.transmit(frame);
        } else if self.session == Session::Disposed {
            self.event(AgentEvent::Replied {
                request: id,
                result: Err(WireError::new(
                    ErrorKind::WrongState,
                    "the call agent has been disposed",
                )),
            });
        } else {
            self.requests.queue(frame);
        }
        id
    }

    /// Records a local change of mute before the server confirms (`isMuted` is the local
    /// microphone's state).
    pub fn set_muted(&mut self, call_id: &CallId, muted: bool) -> Option<RequestId> {
        let call = self.calls.get_mut(call_id)?;
        if call.muted == muted {
            return None;
        }
        call.muted = muted;
        self.event(AgentEvent::Call {
            call_id: call_id.clone(),
            change: CallChange::Muted(muted),
        });
        Some(self.request(Request::SetMuted {
            call_id: call_id.clone(),
            muted,
        }))
    }

    /// Starts or stops sending a video source.
    pub fn set_video(&mut self, call_id: &CallId, source: VideoSource, on: bool) -> RequestId {
        self.request(Request::SetVideo {
            call_id: call_id.clone(),
            source,
            on,
        })
    }

    /// Subscribes to a remote stream at a rendered height, or unsubscribes (`None`).
    pub fn subscribe(
        &mut self,
        call_id: &CallId,
        stream_id: StreamId,
        max_height: Option<u32>,
    ) -> RequestId {
        let call_id = call_id.clone();
        self.request(match max_height {
            Some(max_height) => Request::Subscribe {
                call_id,
                stream_id,
                max_height,
            },
            None => Request::Unsubscribe { call_id, stream_id },
        })
    }

    /// Ends a call here without the server (its start failed): Disconnected with `reason`.
    pub fn end_call(&mut self, call_id: &CallId, reason: EndReason) {
        self.end_locally(call_id, reason);
    }

    /// Runs `apply` on a call's model, marked as the call being changed (see
    /// [`Agent::recover`]); `None` if there is no such call.
    pub fn within_call<R>(
        &mut self,
        call_id: &CallId,
        apply: impl FnOnce(&mut CallModel) -> R,
    ) -> Option<R> {
        let call = self.calls.get_mut(call_id)?;
        self.applying = Some(call_id.clone());
        let result = apply(call);
        self.applying = None;
        Some(result)
    }

    /// Repairs after a panic cut the agent short. A call it was changing may be half-changed, so
    /// it ends, here with [`EndReason::LIBRARY_FAULT`] and for the service as a hang-up; the
    /// other calls and the session go on. A panic outside any call may have left the session
    /// itself half-changed: the agent shuts down, every call ending so.
    pub fn recover(&mut self) {
        let Some(call_id) = self.applying.take() else {
            return self.shut_down(EndReason::LIBRARY_FAULT);
        };
        self.request(Request::HangUp {
            call_id: call_id.clone(),
            for_everyone: false,
        });
        if let Some(call) = self.calls.get_mut(&call_id) {
            // The panic may have come after the call said it ended but before anyone heard:
            // it ends again, to be heard.
            call.state = CallState::Disconnecting;
        }
        self.end_locally(&call_id, EndReason::LIBRARY_FAULT);
    }

    // ---- internals ----

    /// Sends a frame, acknowledging what arrived.
    fn transmit(&mut self, mut frame: Outgoing) {
        frame.ack = (self.last_seq > 0).then_some(self.last_seq);
        self.outputs.push_back(Output::Send(frame));
    }

    fn event(&mut self, event: AgentEvent) {
        self.outputs.push_back(Output::Event(event));
    }

    fn set_connection(&mut self, new: ConnectionState, reason: Option<ConnectionReason>) {
        let old = self.connection;
        if old != new {
            self.connection = new;
            self.event(AgentEvent::ConnectionChanged { new, old, reason });
        }
    }

    fn go_offline(&mut self, reason: Option<ConnectionReason>) {
        self.next_ping = None;
        self.token = None;
        let retry = reason == Some(ConnectionReason::ConnectionIssue);
        match self.ticket.as_mut() {
            // The service keeps the session: calls, rings and requests wait for its resume.
            Some(ticket) if retry => {
                ticket.lost_at.get_or_insert(self.last_heard);
                self.requests.pause();
            }
            // Its calls wait to be joined again on a new session.
            None if retry && self.orphaned.is_some() => self.requests.pause(),
            _ => {
                self.ticket = None;
                self.session_over(EndReason::NETWORK_LOST);
            }
        }
        let retry_at = retry.then(|| {
            let max = if self.ticket.is_some() {
                RECONNECT_MAX_RESUMING
            } else {
                RECONNECT_MAX
            };
            let delay = RECONNECT_FIRST
                .saturating_mul(1 << self.failures.min(10))
                .min(max);
            self.failures += 1;
            self.now + delay
        });
        self.session = Session::Offline { retry_at };
        self.set_connection(ConnectionState::Disconnected, reason);
    }

    /// The session is over: its calls and rings end with `reason` and its requests fail.
    fn session_over(&mut self, reason: EndReason) {
        let mut calls: Vec<CallId> = self.calls.keys().cloned().collect();
        calls.sort();
        for call_id in calls {
            self.end_locally(&call_id, reason);
        }
        self.end_incoming(reason);
        self.rejoins.clear();
        self.orphaned = None;
        let failed = self.requests.fail_all();
        self.fail(failed);
    }

    fn end_incoming(&mut self, reason: EndReason) {
        let mut ringing: Vec<CallId> = self.incoming.keys().cloned().collect();
        ringing.sort();
        for call_id in ringing {
            self.incoming.remove(&call_id);
            self.event(AgentEvent::IncomingCallEnded { call_id, reason });
        }
    }

    fn fail(&mut self, requests: Vec<RequestId>) {
        for request in requests {
            self.event(AgentEvent::Replied {
                request,
                result: Err(WireError::new(
                    ErrorKind::Internal,
                    "the connection to the service was lost",
                )),
            });
        }
    }

    /// Signed in on a new session while calls of an old one remain (the service restarted, or
    /// let the old one go): group calls are joined again, the others are over.
    fn restart_calls(&mut self, fresh: &[CallId]) {
        self.end_incoming(EndReason::NETWORK_LOST);
        let mut calls: Vec<CallId> = self
            .calls
            .keys()
            .filter(|c| !fresh.contains(c))
            .cloned()
            .collect();
        calls.sort();
        for call_id in calls {
            let Some(call) = self.calls.get_mut(&call_id) else {
                continue;
            };
            if !call.group {
                self.end_locally(&call_id, EndReason::NETWORK_LOST);
                continue;
            }
            let rekeyed = call.rejoin(self.now);
            let (muted, lobby) = (call.muted, call.lobby);
            for change in rekeyed {
                self.event(AgentEvent::Call {
                    call_id: call_id.clone(),
                    change,
                });
            }
            self.event(AgentEvent::Rejoined {
                call_id: call_id.clone(),
            });
            // Sent and waited for as any request (again after a resume, failing in time).
            let join = self.requests.frame(Request::JoinGroup {
                group_id: call_id.0.clone(),
                muted,
                lobby,
            });
            self.requests.sent(self.now, join.clone());
            self.rejoins.insert(join.id, call_id);
            self.transmit(join);
        }
    }

    fn end_locally(&mut self, call_id: &CallId, reason: EndReason) {
        if let Some(call) = self.calls.get_mut(call_id) {
            let changes = call.end(reason);
            for change in changes {
                self.outputs.push_back(Output::Event(AgentEvent::Call {
                    call_id: call_id.clone(),
                    change,
                }));
            }
        }
        self.calls.remove(call_id);
    }

    fn handle_reply(&mut self, re: RequestId, ok: Option<Reply>, err: Option<WireError>) {
        if matches!(self.session, Session::Greeting { hello, .. } if hello == re) {
            match (ok, err) {
                (
                    Some(Reply::Welcome {
                        identity,
                        endpoint_id,
                        heartbeat_interval_ms,
                        ice_servers,
                        resume_secret,
                        resume_window_ms,
                        resumed,
                        last_request,
                        ..
                    }),
                    _,
                ) => {
                    self.session = Session::Ready;
                    self.failures = 0;
                    self.token = None;
                    self.heartbeat = u64::from(heartbeat_interval_ms.clamp(500, 60_000));
                    self.next_ping = Some(self.now + self.heartbeat);
                    let resumed = resumed && self.ticket.is_some();
                    let orphaned =
                        self.orphaned.take().is_some() || (self.ticket.is_some() && !resumed);
                    // A server that does not resume gives no secret.
                    self.ticket = (!resume_secret.is_empty()).then(|| Ticket {
                        endpoint_id,
                        secret: resume_secret,
                        window: u64::from(resume_window_ms),
                        lost_at: None,
                    });
                    self.event(AgentEvent::SignedIn {
                        identity,
                        ice_servers,
                    });
                    self.set_connection(ConnectionState::Connected, None);
                    if resumed {
                        for frame in self.requests.resume(self.now, last_request) {
                            self.transmit(frame);
                        }
                    } else {
                        // A new endpoint numbers its frames afresh.
                        self.last_seq = 0;
                        let (queued, lost) = self.requests.restart(self.now);
                        self.fail(lost);
                        if orphaned {
                            // Calls whose start is still queued are new: they start now.
                            let fresh: Vec<CallId> =
                                queued.iter().filter_map(|f| starts(&f.req)).collect();
                            self.restart_calls(&fresh);
                        }
                        for frame in queued {
                            self.transmit(frame);
                        }
                    }
                }
                (_, Some(err)) if err.is(ErrorKind::SessionNotResumable) => {
                    // The session is gone, the socket is not: sign in afresh on it.
                    // Its calls may be joined again until the window would have ended.
                    let until = self
                        .ticket
                        .take()
                        .map_or(self.now, |t| t.lost_at.unwrap_or(self.now) + t.window);
                    self.orphaned = Some(until);
                    match self.token.take() {
                        Some(token) => self.send_hello(token),
                        None => self.lose_socket(),
                    }
                }
                (_, Some(err)) => {
                    let token_problem = [
                        ErrorKind::InvalidToken,
                        ErrorKind::TokenExpired,
                        ErrorKind::TokenRevoked,
                        ErrorKind::NotPermitted,
                    ]
                    .iter()
                    .any(|k| err.is(*k));
                    self.event(AgentEvent::Refused(err));
                    self.outputs.push_back(Output::Close);
                    let reason = if token_problem {
                        ConnectionReason::InvalidToken
                    } else {
                        ConnectionReason::ConnectionIssue
                    };
                    // A refused token will not be accepted on retry: stop.
                    self.go_offline(Some(reason));
                }
                _ => {}
            }
            return;
        }
        if !self.requests.answered(re) {
            return;
        }
        if let Some(call_id) = self.rejoins.remove(&re) {
            if err.is_some() {
                self.end_locally(&call_id, EndReason::NETWORK_LOST);
            }
            return;
        }
        let result = match (ok, err) {
            (_, Some(err)) => Err(err),
            (ok, None) => Ok(ok.unwrap_or(Reply::Done)),
        };
        self.event(AgentEvent::Replied {
            request: re,
            result,
        });
    }

    fn handle_event(&mut self, event: Event) {
        match event {
            Event::IncomingCall {
                call_id,
                caller,
                caller_display_name,
            } => {
                let model = IncomingModel {
                    call_id: call_id.clone(),
                    caller,
                    caller_display_name,
                };
                self.incoming.insert(call_id, model.clone());
                self.event(AgentEvent::IncomingCall(model));
            }
            Event::IncomingCallEnded { call_id, reason } => {
                if self.incoming.remove(&call_id).is_some() {
                    self.event(AgentEvent::IncomingCallEnded { call_id, reason });
                }
            }
            Event::Transferred {
                call_id,
                target_call_id,
                target,
            } => {
                let Some(muted) = self.calls.get(&call_id).map(|c| c.muted) else {
                    return;
                };
                self.calls.insert(
                    target_call_id.clone(),
                    CallModel::new(target_call_id.clone(), CallState::None, muted),
                );
                self.event(AgentEvent::Transferred {
                    call_id,
                    target_call_id,
                    target,
                });
            }
            Event::SdpOffer {
                call_id,
                version,
                sdp,
                media,
            } => {
                if self.calls.contains_key(&call_id) {
                    self.event(AgentEvent::SdpOffer {
                        call_id,
                        version,
                        sdp,
                        media,
                    });
                }
            }
            other => {
                let Some(call_id) = call_of(&other) else {
                    return;
                };
                let Some((changes, ended)) = self.within_call(&call_id, |call| {
                    (call.apply(other), call.state == CallState::Disconnected)
                }) else {
                    return;
                };
                for change in changes {
                    self.outputs.push_back(Output::Event(AgentEvent::Call {
                        call_id: call_id.clone(),
                        change,
                    }));
                }
                if ended {
                    self.calls.remove(&call_id);
                }
            }
        }
    }
}

/// The call a request starts, if it starts one.
fn starts(request: &Request) -> Option<CallId> {
    match request {
        Request::StartCall { call_id, .. } | Request::Accept { call_id, .. } => {
            Some(call_id.clone())
        }
        Request::JoinGroup { group_id, .. } => Some(CallId(group_id.clone())),
        _ => None,
    }
}

fn call_of(event: &Event) -> Option<CallId> {
    match event {
        Event::CallState { call_id, .. }
        | Event::Participants { call_id, .. }
        | Event::Speaking { call_id, .. }
        | Event::DominantSpeakers { call_id, .. }
        | Event::EchoReport { call_id, .. }
        | Event::DtmfReceived { call_id, .. }
        | Event::Role { call_id, .. }
        | Event::MutedByOthers { call_id }
        | Event::Feature { call_id, .. } => Some(call_id.clone()),
        _ => None,
    }
}

#[cfg(test)]
#[path = "agent_tests.rs"]
mod tests;
