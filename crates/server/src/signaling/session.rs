//! One endpoint's WebSocket (`GET /signal`): authenticates its `hello`, then carries requests to
//! the node and frames back, and drops the endpoint when it goes silent past the heartbeat.
//! Malformed, oversized and unauthenticated messages are answered here with typed errors and
//! never reach the hub.

use super::{refusable, NodeError, OutgoingFrame, SessionInput, OUTBOX_CAPACITY};
use crate::identity::TokenRejection;
use crate::AppState;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use rtcall_protocol::signal::{
    ClientFrame, ErrorKind, Reply, Request, ServerFrame, WireError, MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;

/// How long a new connection may take to send its `hello`.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest display name kept, in characters.
const MAX_DISPLAY_NAME: usize = 256;
/// Close code for a refused `hello` (application range 4000-4999).
const CLOSE_UNAUTHORIZED: u16 = 4001;

static NEXT_ENDPOINT: AtomicU64 = AtomicU64::new(1);

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

/// Waits for a valid `hello`; returns the identity, display name and request id.
async fn hello(socket: &mut WebSocket, state: &AppState) -> Result<(String, String, u32), Refusal> {
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
        return Ok((claims.sub, display_name, frame.id));
    }
}

async fn session(mut socket: WebSocket, state: Arc<AppState>) {
    let (identity, display_name, hello_id) = match hello(&mut socket, &state).await {
        Ok(hello) => hello,
        Err((id, error)) => {
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
            return;
        }
    };
    let endpoint = NEXT_ENDPOINT.fetch_add(1, Ordering::Relaxed);
    let heartbeat = state.signaling.heartbeat_interval;
    let ice_servers = state
        .signaling
        .turn
        .as_ref()
        .map(|turn| vec![turn.credentials(&identity, SystemTime::now())])
        .unwrap_or_default();
    let welcome = ServerFrame::reply(
        hello_id,
        Reply::Welcome {
            identity: identity.clone(),
            endpoint_id: endpoint.to_string(),
            heartbeat_interval_ms: heartbeat.as_millis() as u32,
            version: PROTOCOL_VERSION,
            ice_servers,
        },
    );
    // The hub knows the endpoint before the client hears it is welcome, so a call to this
    // identity made right after rings here. Whatever the hub sends meanwhile waits in the
    // outbox, which is drained only after the welcome.
    let (outbox, mut inbox) = mpsc::channel::<OutgoingFrame>(OUTBOX_CAPACITY);
    let connect = SessionInput::Connect {
        endpoint,
        identity,
        display_name,
        outbox,
    };
    if state.node.send(connect).await.is_err() {
        return;
    }
    if socket.send(frame_text(&welcome)).await.is_err() {
        let _ = state.node.send(SessionInput::Disconnect { endpoint }).await;
        return;
    }
    let (mut sink, mut stream) = socket.split();
    // Silent for three heartbeats: gone.
    let silence = heartbeat * 3;
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
                    Ok(Some(ClientFrame { id, req })) if !refusable(&req) => {
                        let request = SessionInput::Request { endpoint, id, request: req };
                        if state.node.send(request).await.is_err() {
                            break;
                        }
                    }
                    Ok(Some(ClientFrame { id, req })) => match state.node.try_request(endpoint, id, req) {
                        Ok(()) => {}
                        Err(NodeError::Busy) => {
                            let busy = ServerFrame::error(id, WireError::new(ErrorKind::ServiceBusy, NodeError::Busy.to_string()));
                            if sink.send(frame_text(&busy)).await.is_err() {
                                break;
                            }
                        }
                        Err(NodeError::Stopped) => break,
                    },
                    Ok(None) if matches!(message, Message::Close(_)) => break,
                    Ok(None) => {}
                    Err(error) => {
                        if sink.send(frame_text(&ServerFrame { err: Some(error), ..Default::default() })).await.is_err() {
                            break;
                        }
                    }
                }
            }
            outgoing = inbox.recv() => {
                let Some(text) = outgoing else { break }; // the node dropped this endpoint
                if sink.send(Message::Text((*text).into())).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = state.node.send(SessionInput::Disconnect { endpoint }).await;
}
