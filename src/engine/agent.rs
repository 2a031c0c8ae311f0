//! The call agent's core: the signaling session (hello, heartbeat, reconnect with backoff), the
//! requests in flight, and every call's state and roster as the server reports them.
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
//!         Output::Event(event) => { /* update the JS objects, fire their events */ }
//!         Output::Timeout(at) => { /* call handle_timeout(at) then */ break; }
//!     }
//! }
//! ```
//!
//! Times are milliseconds since the Unix epoch (the browser's `Date.now()`).

use super::call::{CallChange, CallModel};
use rtcall_protocol::call::{CallId, CallState, EndReason, StreamId};
use rtcall_protocol::signal::{
    ClientFrame, ErrorKind, Event, IceServer, MediaLine, Reply, Request, RequestId, ServerFrame,
    VideoSource, WireError, PROTOCOL_VERSION,
};
use std::collections::{BTreeMap, HashMap, VecDeque};

/// Milliseconds since the Unix epoch.
pub type Millis = u64;

/// How long a request may wait for its reply before it fails.
pub const REQUEST_TIMEOUT: Millis = 15_000;
/// Reconnection delays: doubling from the first to the last.
pub const RECONNECT_FIRST: Millis = 500;
pub const RECONNECT_MAX: Millis = 16_000;

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
        result: Result<(), WireError>,
    },
}

/// What the agent wants done.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Open a new WebSocket to the service and call [`Agent::handle_open`] with a token.
    Connect,
    /// Send this frame.
    Send(ClientFrame),
    /// Close the socket.
    Close,
    /// Something happened.
    Event(AgentEvent),
    /// Nothing until this time (or an input).
    Timeout(Millis),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Session {
    /// No socket; reconnect at the time, if any.
    Offline { retry_at: Option<Millis> },
    /// The shell is opening a socket.
    Opening,
    /// Socket open, hello sent.
    Greeting { hello: RequestId },
    /// Signed in.
    Ready,
    /// Disposed: nothing more.
    Disposed,
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
    next_request: RequestId,
    /// Requests in flight and when they time out.
    pending: BTreeMap<RequestId, Millis>,
    /// Requests waiting for the connection.
    queued: Vec<ClientFrame>,
    calls: HashMap<CallId, CallModel>,
    incoming: HashMap<CallId, IncomingModel>,
    outputs: VecDeque<Output>,
    now: Millis,
}

impl Agent {
    /// A new agent, asking to connect at once.
    pub fn new(display_name: String, now: Millis) -> Self {
        let mut agent = Agent {
            display_name,
            session: Session::Opening,
            connection: ConnectionState::Disconnected,
            failures: 0,
            heartbeat: 3000,
            next_ping: None,
            next_request: 1,
            pending: BTreeMap::new(),
            queued: Vec::new(),
            calls: HashMap::new(),
            incoming: HashMap::new(),
            outputs: VecDeque::new(),
            now,
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
        let mut next = Millis::MAX;
        if let Session::Offline { retry_at: Some(at) } = self.session {
            next = next.min(at);
        }
        if let Some(at) = self.next_ping {
            next = next.min(at);
        }
        if let Some(at) = self.pending.values().min() {
            next = next.min(*at);
        }
        Output::Timeout(next)
    }

    // ---- socket life ----

    /// The socket opened; `token` is a fresh access token. Sends hello.
    pub fn handle_open(&mut self, now: Millis, token: String) {
        self.now = now;
        if self.session != Session::Opening {
            return;
        }
        let hello = self.next_id();
        self.session = Session::Greeting { hello };
        self.pending.insert(hello, now + REQUEST_TIMEOUT);
        self.transmit(ClientFrame {
            id: hello,
            req: Request::Hello {
                token,
                display_name: self.display_name.clone(),
                version: PROTOCOL_VERSION,
            },
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
    pub fn handle_frame(&mut self, now: Millis, frame: ServerFrame) {
        self.now = now;
        // An error that answers no request while greeting refuses the hello (a server that
        // could not read the hello's id cannot echo it).
        let re = match (frame.re, &frame.err, self.session) {
            (None, Some(_), Session::Greeting { hello }) => Some(hello),
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

    /// Time passed: pings, request timeouts, reconnects.
    pub fn handle_timeout(&mut self, now: Millis) {
        self.now = now;
        if let Session::Offline { retry_at: Some(at) } = self.session {
            if now >= at {
                self.session = Session::Opening;
                self.outputs.push_back(Output::Connect);
            }
        }
        if self.next_ping.is_some_and(|at| now >= at) {
            self.next_ping = Some(now + self.heartbeat);
            let id = self.next_id();
            self.transmit(ClientFrame {
                id,
                req: Request::Ping,
            });
        }
        let expired: Vec<RequestId> = self
            .pending
            .iter()
            .filter(|(_, at)| now >= **at)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.pending.remove(&id);
            if matches!(self.session, Session::Greeting { hello } if hello == id) {
                // No welcome in time: treat the connection as broken.
                self.outputs.push_back(Output::Close);
                self.go_offline(Some(ConnectionReason::ConnectionIssue));
            } else {
                self.event(AgentEvent::Replied {
                    request: id,
                    result: Err(WireError::new(
                        ErrorKind::Internal,
                        "the service did not answer in time",
                    )),
                });
            }
        }
    }

    /// Stops everything: calls end, the socket closes, no reconnects.
    pub fn dispose(&mut self) {
        if self.session == Session::Disposed {
            return;
        }
        for call_id in self.calls.keys().cloned().collect::<Vec<_>>() {
            self.end_locally(&call_id, EndReason::HUNG_UP);
        }
        self.outputs.push_back(Output::Close);
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
        self.calls
            .insert(call_id.clone(), CallModel::new(call_id.clone(), muted));
        self.request(Request::StartCall {
            call_id,
            targets,
            muted,
            alternate_caller_id: caller_id,
        })
    }

    /// Joins a group call.
    pub fn join_group(&mut self, group_id: String, muted: bool) -> RequestId {
        let call_id = CallId(group_id.clone());
        self.calls
            .insert(call_id.clone(), CallModel::new(call_id, muted));
        self.request(Request::JoinGroup { group_id, muted })
    }

    /// Accepts a ringing call.
    pub fn accept(&mut self, call_id: CallId, muted: bool) -> RequestId {
        self.incoming.remove(&call_id);
        self.calls
            .insert(call_id.clone(), CallModel::new(call_id.clone(), muted));
        self.request(Request::Accept { call_id, muted })
    }

    /// Any other request about a call.
    pub fn request(&mut self, request: Request) -> RequestId {
        let id = self.next_id();
        let frame = ClientFrame { id, req: request };
        if self.session == Session::Ready {
            self.pending.insert(id, self.now + REQUEST_TIMEOUT);
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
            self.queued.push(frame);
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

    // ---- internals ----

    fn next_id(&mut self) -> RequestId {
        let id = self.next_request;
        self.next_request = self.next_request.wrapping_add(1).max(1);
        id
    }

    fn transmit(&mut self, frame: ClientFrame) {
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
        // Calls cannot survive a lost signaling connection (the server ends them): end them
        // here too, as a network loss.
        for call_id in self.calls.keys().cloned().collect::<Vec<_>>() {
            self.end_locally(&call_id, EndReason::NETWORK_LOST);
        }
        for call_id in self.incoming.keys().cloned().collect::<Vec<_>>() {
            self.incoming.remove(&call_id);
            self.event(AgentEvent::IncomingCallEnded {
                call_id,
                reason: EndReason::NETWORK_LOST,
            });
        }
        let failed: Vec<RequestId> = self.pending.keys().copied().collect();
        self.pending.clear();
        for request in failed
            .into_iter()
            .chain(self.queued.drain(..).map(|f| f.id).collect::<Vec<_>>())
        {
            self.outputs.push_back(Output::Event(AgentEvent::Replied {
                request,
                result: Err(WireError::new(
                    ErrorKind::Internal,
                    "the connection to the service was lost",
                )),
            }));
        }
        self.next_ping = None;
        let retry_at = (reason == Some(ConnectionReason::ConnectionIssue)).then(|| {
            let delay = RECONNECT_FIRST
                .saturating_mul(1 << self.failures.min(10))
                .min(RECONNECT_MAX);
            self.failures += 1;
            self.now + delay
        });
        self.session = Session::Offline { retry_at };
        self.set_connection(ConnectionState::Disconnected, reason);
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
        if self.pending.remove(&re).is_none() {
            return;
        }
        if matches!(self.session, Session::Greeting { hello } if hello == re) {
            match (ok, err) {
                (
                    Some(Reply::Welcome {
                        identity,
                        heartbeat_interval_ms,
                        ice_servers,
                        ..
                    }),
                    _,
                ) => {
                    self.session = Session::Ready;
                    self.failures = 0;
                    self.heartbeat = u64::from(heartbeat_interval_ms.clamp(500, 60_000));
                    self.next_ping = Some(self.now + self.heartbeat);
                    self.event(AgentEvent::SignedIn {
                        identity,
                        ice_servers,
                    });
                    self.set_connection(ConnectionState::Connected, None);
                    for frame in std::mem::take(&mut self.queued) {
                        self.pending.insert(frame.id, self.now + REQUEST_TIMEOUT);
                        self.transmit(frame);
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
                    if token_problem {
                        self.session = Session::Offline { retry_at: None };
                    }
                }
                _ => {}
            }
            return;
        }
        let result = match (ok, err) {
            (_, Some(err)) => Err(err),
            _ => Ok(()),
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
                let Some(call) = self.calls.get_mut(&call_id) else {
                    return;
                };
                let changes = call.apply(other);
                let ended = call.state == CallState::Disconnected;
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

fn call_of(event: &Event) -> Option<CallId> {
    match event {
        Event::CallState { call_id, .. }
        | Event::Participants { call_id, .. }
        | Event::Speaking { call_id, .. }
        | Event::DominantSpeakers { call_id, .. }
        | Event::EchoReport { call_id, .. }
        | Event::DtmfReceived { call_id, .. } => Some(call_id.clone()),
        _ => None,
    }
}

#[cfg(test)]
#[path = "agent_tests.rs"]
mod tests;
