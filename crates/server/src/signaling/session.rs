//! One WebSocket (`GET /signal`): authenticates its `hello`, begins a new endpoint or resumes
//! one whose socket was lost (replaying what it missed), then carries requests to the node and
//! frames back, and tells the node when the socket closes or goes silent past the heartbeat.
//! Malformed, oversized and unauthenticated messages are answered here with typed errors and
//! never reach the hub.

use super::{refusable, NodeError, OutgoingFrame, SessionId, SessionInput, OUTBOX_CAPACITY};
use crate::contract::EndpointId;
use crate::identity::TokenRejection;
use crate::AppState;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use rand::RngCore;
use rtcall_protocol::signal::{
    ClientFrame, ErrorKind, Reply, Request, Resume, ServerFrame, WireError, MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};

/// How long a new connection may take to send its `hello`.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest display name kept, in characters.
const MAX_DISPLAY_NAME: usize = 256;
/// Close code for a refused `hello` (application range 4000-4999).
const CLOSE_UNAUTHORIZED: u16 = 4001;

/// A connection may resume a session, fail, and start afresh: a few hellos, not a stream.
const MAX_HELLOS: usize = 3;

static NEXT_ENDPOINT: AtomicU64 = AtomicU64::new(1);
static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

/// Upgrades `GET /signal` to a signaling session.
pub async fn upgrade(ws: WebSocketUpgrade, State(state): State<Arc<AppState>>) -> Response {
    // The transport takes up to four times the frame limit so that a frame just over it gets a
    // typed error rather than a dropped connection.
    ws.max_message_size(4 * MAX_FRAME_BYTES)
        .max_frame_size(4 * MAX_FRAME_BYTES)
        .on_upgrade(move |socket| session(socket, state))
}

fn frame_text(frame: &ServerFrame) -> Message {
    // A frame of plain strings and numbers always serializes.
    Message::Text(
        serde_json::to_string(frame)
            .expect("frames serialize")
            .into(),
    )
}

fn parse(message: &Message) -> Result<Option<ClientFrame>, WireError> {
    match message {
        Message::Text(text) if text.len() > MAX_FRAME_BYTES => Err(WireError::new(
            ErrorKind::MessageTooLarge,
            format!("requests are limited to {MAX_FRAME_BYTES} bytes"),
        )),
        Message::Text(text) => serde_json::from_str(text).map(Some).map_err(|e| {
            WireError::new(
                ErrorKind::MalformedMessage,
                format!("not a valid request: {e}"),
            )
        }),
        Message::Binary(_) => Err(WireError::new(
            ErrorKind::MalformedMessage,
            "requests are JSON text messages",
        )),
        // Pings, pongs and closes are the WebSocket's own business.
        _ => Ok(None),
    }
}

fn token_error(rejection: TokenRejection) -> WireError {
    let kind = match rejection {
        TokenRejection::Expired => ErrorKind::TokenExpired,
        TokenRejection::Revoked => ErrorKind::TokenRevoked,
        TokenRejection::Malformed
        | TokenRejection::BadSignature
        | TokenRejection::UnknownIdentity => ErrorKind::InvalidToken,
    };
    WireError::new(kind, rejection.to_string())
}

/// A refused hello: the hello's request id when it could be read (so the client can match the
/// refusal to its request), and why.
type Refusal = (Option<u32>, WireError);

/// An accepted hello.
struct Greeting {
    /// Its request id.
    id: u32,
    identity: String,
    display_name: String,
    /// When the token expires (seconds since the Unix epoch).
    token_expiry: u64,
    resume: Option<Resume>,
}

/// Waits for a valid `hello`.
async fn hello(socket: &mut WebSocket, state: &AppState) -> Result<Greeting, Refusal> {
    let deadline = tokio::time::sleep(HELLO_TIMEOUT);
    tokio::pin!(deadline);
    loop {
        let message = tokio::select! {
            message = socket.recv() => message,
            _ = &mut deadline => {
                return Err((None, WireError::new(ErrorKind::NotAuthenticated, "no hello within 10 seconds")));
            }
        };
        let Some(Ok(message)) = message else {
            return Err((
                None,
                WireError::new(ErrorKind::NotAuthenticated, "closed before hello"),
            ));
        };
        let Some(frame) = parse(&message).map_err(|e| (None, e))? else {
            continue;
        };
        let id = Some(frame.id);
        let Request::Hello {
            token,
            display_name,
            version,
            resume,
        } = frame.req
        else {
            return Err((
                id,
                WireError::new(
                    ErrorKind::NotAuthenticated,
                    "the first request must be hello",
                ),
            ));
        };
        if version != PROTOCOL_VERSION {
            let message = format!("this server speaks protocol version {PROTOCOL_VERSION}");
            return Err((id, WireError::new(ErrorKind::UnsupportedVersion, message)));
        }
        let claims = state
            .identities
            .verify_token(&token, SystemTime::now())
            .map_err(|r| (id, token_error(r)))?;
        if !claims.scp.iter().any(|s| s.allows_calling()) {
            return Err((
                id,
                WireError::new(
                    ErrorKind::NotPermitted,
                    "the access token has no voip scope",
                ),
            ));
        }
        let display_name: String = display_name.trim().chars().take(MAX_DISPLAY_NAME).collect();
        return Ok(Greeting {
            id: frame.id,
            identity: claims.sub,
            display_name,
            token_expiry: claims.exp,
            resume,
        });
    }
}

/// A new secret that resumes a session: 256 random bits, base64url.
fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Sends a refusal of the hello and closes the socket.
async fn refuse(socket: &mut WebSocket, (id, error): Refusal) {
    let refusal = ServerFrame {
        re: id,
        err: Some(error.clone()),
        ..Default::default()
    };
    let _ = socket.send(frame_text(&refusal)).await;
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code: CLOSE_UNAUTHORIZED,
            reason: error.message.chars().take(100).collect::<String>().into(),
        })))
        .await;
}

/// How a session began: a new endpoint, or one resumed with the frames it missed.
struct Began {
    endpoint: EndpointId,
    welcome: ServerFrame,
    missed: Vec<OutgoingFrame>,
    inbox: mpsc::Receiver<OutgoingFrame>,
}

/// Takes hellos until one begins a session: a resume that is refused is answered with
/// `SessionNotResumable` and the client may send a new hello (at most [`MAX_HELLOS`]).
async fn begin(
    socket: &mut WebSocket,
    state: &AppState,
    session: SessionId,
) -> Result<Began, Refusal> {
    for _ in 0..MAX_HELLOS {
        let greeting = hello(socket, state).await?;
        let heartbeat = state.signaling.heartbeat_interval;
        let token_expiry = UNIX_EPOCH + Duration::from_secs(greeting.token_expiry);
        let ice_servers = state
            .signaling
            .turn
            .as_ref()
            .map(|turn| vec![turn.credentials(&greeting.identity, SystemTime::now(), token_expiry)])
            .unwrap_or_default();
        let secret = new_secret();
        let (outbox, inbox) = mpsc::channel::<OutgoingFrame>(OUTBOX_CAPACITY);
        let (endpoint, missed, resumed) = match greeting.resume {
            Some(resume) => {
                let endpoint = resume.endpoint_id.parse::<EndpointId>().ok();
                let (answer, answered) = oneshot::channel();
                let asked = match endpoint {
                    Some(endpoint) => {
                        let input = SessionInput::Resume {
                            endpoint,
                            session,
                            identity: greeting.identity.clone(),
                            secret: resume.secret,
                            last_seq: resume.last_seq,
                            new_secret: secret.clone(),
                            outbox,
                            answer,
                        };
                        state.node.send(input).await.is_ok()
                    }
                    None => false,
                };
                let resumed = if asked {
                    answered.await.ok().flatten()
                } else {
                    None
                };
                let (Some(endpoint), Some(resumed)) = (endpoint, resumed) else {
                    let refusal = ServerFrame::error(
                        greeting.id,
                        WireError::new(
                            ErrorKind::SessionNotResumable,
                            "no such session to resume: start a new one",
                        ),
                    );
                    if socket.send(frame_text(&refusal)).await.is_err() {
                        return Err((None, WireError::new(ErrorKind::NotAuthenticated, "closed")));
                    }
                    continue;
                };
                (endpoint, resumed.missed, Some(resumed.last_request))
            }
            None => {
                let endpoint = NEXT_ENDPOINT.fetch_add(1, Ordering::Relaxed);
                // The hub knows the endpoint before the client hears it is welcome, so a call
                // to this identity made right after rings here. Whatever the hub sends
                // meanwhile waits in the outbox, which is drained only after the welcome.
                let connect = SessionInput::Connect {
                    endpoint,
                    session,
                    identity: greeting.identity.clone(),
                    display_name: greeting.display_name,
                    secret: secret.clone(),
                    outbox,
                };
                if state.node.send(connect).await.is_err() {
                    return Err((
                        None,
                        WireError::new(ErrorKind::Internal, "the service is stopping"),
                    ));
                }
                (endpoint, Vec::new(), None)
            }
        };
        let welcome = ServerFrame::reply(
            greeting.id,
            Reply::Welcome {
                identity: greeting.identity,
                endpoint_id: endpoint.to_string(),
                heartbeat_interval_ms: heartbeat.as_millis() as u32,
                version: PROTOCOL_VERSION,
                ice_servers,
                resume_secret: secret,
                resume_window_ms: state.signaling.resume_window.as_millis() as u32,
                resumed: resumed.is_some(),
                last_request: resumed.flatten(),
            },
        );
        return Ok(Began {
            endpoint,
            welcome,
            missed,
            inbox,
        });
    }
    Err((
        None,
        WireError::new(ErrorKind::NotAuthenticated, "too many hellos"),
    ))
}

async fn session(mut socket: WebSocket, state: Arc<AppState>) {
    let session = NEXT_SESSION.fetch_add(1, Ordering::Relaxed);
    let began = match begin(&mut socket, &state, session).await {
        Ok(began) => began,
        Err(refusal) => return refuse(&mut socket, refusal).await,
    };
    let Began {
        endpoint,
        welcome,
        missed,
        mut inbox,
    } = began;
    let disconnect = |goodbye| SessionInput::Disconnect {
        endpoint,
        session,
        goodbye,
    };
    let mut sent = socket.send(frame_text(&welcome)).await.is_ok();
    for frame in missed {
        if !sent {
            break;
        }
        sent = socket.send(Message::Text((*frame).into())).await.is_ok();
    }
    if !sent {
        let _ = state.node.send(disconnect(false)).await;
        return;
    }
    // A close frame of 1000 (the agent disposed) or 1001 (the page went away: its agent is
    // gone with it) is the client's goodbye; anything else may be the network's doing.
    let mut goodbye = false;
    let (mut sink, mut stream) = socket.split();
    // Silent for three heartbeats: gone.
    let silence = state.signaling.heartbeat_interval * 3;
    loop {
        tokio::select! {
            received = tokio::time::timeout(silence, stream.next()) => {
                let message = match received {
                    Ok(Some(Ok(message))) => message,
                    Ok(_) => break, // closed or broken
                    Err(_) => {
                        tracing::debug!(endpoint, "endpoint silent past its heartbeat");
                        break;
                    }
                };
                match parse(&message) {
                    Ok(Some(ClientFrame { id, req, ack })) => {
                        let refusable = refusable(&req);
                        let request = SessionInput::Request { endpoint, session, id, request: req, ack };
                        let taken = if refusable {
                            state.node.try_request(request)
                        } else {
                            state.node.send(request).await
                        };
                        match taken {
                            Ok(()) => {}
                            Err(NodeError::Busy) => {
                                let busy = ServerFrame::error(id, WireError::new(ErrorKind::ServiceBusy, NodeError::Busy.to_string()));
                                if sink.send(frame_text(&busy)).await.is_err() {
                                    break;
                                }
                            }
                            Err(NodeError::Stopped) => break,
                        }
                    }
                    Ok(None) if matches!(message, Message::Close(_)) => {
                        goodbye = matches!(&message, Message::Close(Some(frame)) if matches!(frame.code, 1000 | 1001));
                        break;
                    }
                    Ok(None) => {}
                    Err(error) => {
                        if sink.send(frame_text(&ServerFrame { err: Some(error), ..Default::default() })).await.is_err() {
                            break;
                        }
                    }
                }
            }
            outgoing = inbox.recv() => {
                // The node let this session go (the endpoint resumed elsewhere, or this socket
                // was too slow).
                let Some(text) = outgoing else { break };
                if sink.send(Message::Text((*text).into())).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = state.node.send(disconnect(goodbye)).await;
}
