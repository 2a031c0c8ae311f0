//! Signaling: the call hub (a sans-IO state machine of endpoints and calls), the WebSocket
//! sessions that authenticate endpoints and carry their messages to and from it, and the
//! [`links`] that let an endpoint outlive one session. Sessions reach the node that runs the hub
//! through a [`NodeHandle`] (a bounded channel of [`SessionInput`]s) and get their frames back
//! on a bounded outbox of their own.

pub mod hub;
pub mod links;
pub mod session;
pub mod turn;

use crate::contract::EndpointId;
use rtcall_protocol::signal::{Request, RequestId};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// One WebSocket's session, never reused: an endpoint resumed by a new session ignores what
/// the old one still says.
pub type SessionId = u64;

/// Signaling settings.
#[derive(Debug, Clone)]
pub struct SignalingConfig {
    /// How often clients ping; silent for three intervals, an endpoint is dropped.
    pub heartbeat_interval: Duration,
    /// TURN servers handed to clients, if any.
    pub turn: Option<turn::TurnConfig>,
    /// How long an endpoint's calls wait for it to resume after its socket is lost.
    pub resume_window: Duration,
}

/// Frames waiting for one slow endpoint before it is dropped.
pub const OUTBOX_CAPACITY: usize = 1024;

/// Inputs from all sessions waiting for the node before requests are refused as busy.
pub const NODE_INBOX_CAPACITY: usize = 4096;

/// A serialized frame on its way to an endpoint's WebSocket.
pub type OutgoingFrame = Arc<str>;

/// What sessions tell the node.
#[derive(Debug)]
pub enum SessionInput {
    /// An endpoint authenticated.
    Connect {
        /// Its id.
        endpoint: EndpointId,
        /// The session carrying it.
        session: SessionId,
        /// Its identity's raw id.
        identity: String,
        /// Its display name.
        display_name: String,
        /// The secret that resumes it.
        secret: String,
        /// Where its outgoing frames go.
        outbox: mpsc::Sender<OutgoingFrame>,
    },
    /// A `hello` asks to resume an endpoint whose socket was lost.
    Resume {
        /// The endpoint.
        endpoint: EndpointId,
        /// The new session that would carry it.
        session: SessionId,
        /// The identity the hello's token is for.
        identity: String,
        /// The secret it gave, and the last frame it received.
        secret: String,
        last_seq: u64,
        /// The secret that resumes it next time, if resumed.
        new_secret: String,
        /// Where its outgoing frames go from now on, if resumed.
        outbox: mpsc::Sender<OutgoingFrame>,
        /// The frames it missed and the last request taken, or `None`: not resumed.
        answer: oneshot::Sender<Option<links::Resumed>>,
    },
    /// An endpoint's WebSocket closed or went silent: its calls wait for it to resume, unless
    /// the client said goodbye (closed with 1000 or 1001), when it leaves them at once.
    Disconnect {
        /// Which.
        endpoint: EndpointId,
        /// The session that carried it.
        session: SessionId,
        /// The client closed the socket as going away (1000 or 1001): it is gone.
        goodbye: bool,
    },
    /// A request.
    Request {
        /// From whom.
        endpoint: EndpointId,
        /// Through which session.
        session: SessionId,
        /// Its id.
        id: RequestId,
        /// What.
        request: Request,
        /// The last frame the endpoint received.
        ack: Option<u64>,
    },
}

/// Why the node did not take an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NodeError {
    /// More inputs wait than the node takes: the request was refused, nothing changed.
    #[error("the service is busy; try again shortly")]
    Busy,
    /// The node has stopped.
    #[error("the service is stopping")]
    Stopped,
}

/// Whether the node may refuse `request` as busy: a request that starts something (a call, an
/// invitation, a key press, a call feature's action) can be refused and tried again; one that keeps what exists
/// consistent (an SDP answer, mute, hold, video, subscriptions, hanging up, a heartbeat) waits
/// for room instead, since refusing it would leave the endpoint and the service disagreeing.
pub fn refusable(request: &Request) -> bool {
    matches!(
        request,
        Request::StartCall { .. }
            | Request::JoinGroup { .. }
            | Request::Accept { .. }
            | Request::AddParticipant { .. }
            | Request::RemoveParticipant { .. }
            | Request::SendDtmf { .. }
            | Request::MuteOthers { .. }
            | Request::AdmitLobby { .. }
            | Request::RejectLobby { .. }
            | Request::Feature { .. }
    )
}

/// A cheap handle for sending the node inputs, over a bounded channel.
#[derive(Debug, Clone)]
pub struct NodeHandle {
    tx: mpsc::Sender<SessionInput>,
}

impl NodeHandle {
    /// A handle and the node's end of its channel, which holds up to `capacity` inputs.
    pub fn channel(capacity: usize) -> (NodeHandle, mpsc::Receiver<SessionInput>) {
        let (tx, rx) = mpsc::channel(capacity);
        (NodeHandle { tx }, rx)
    }

    /// Sends an input that must not be lost (a connect, a disconnect, a request that keeps
    /// state consistent), waiting for room.
    pub async fn send(&self, input: SessionInput) -> Result<(), NodeError> {
        self.tx.send(input).await.map_err(|_| NodeError::Stopped)
    }

    /// Sends a request (a [`SessionInput::Request`]), or refuses it at once when the node is
    /// that far behind.
    pub fn try_request(&self, request: SessionInput) -> Result<(), NodeError> {
        self.tx.try_send(request).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => NodeError::Busy,
            mpsc::error::TrySendError::Closed(_) => NodeError::Stopped,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_starts_something_may_be_refused_and_what_keeps_state_may_not() {
        let call = || rtcall_protocol::call::CallId("c".into());
        assert!(refusable(&Request::JoinGroup {
            group_id: "g".into(),
            muted: false,
            lobby: false,
        }));
        for kept in [
            Request::Ping,
            Request::SdpAnswer {
                call_id: call(),
                version: 1,
                sdp: String::new(),
            },
            Request::SetMuted {
                call_id: call(),
                muted: true,
            },
            Request::HangUp {
                call_id: call(),
                for_everyone: false,
            },
        ] {
            assert!(!refusable(&kept), "{kept:?}");
        }
    }

    fn ping(id: RequestId) -> SessionInput {
        SessionInput::Request {
            endpoint: 1,
            session: 1,
            id,
            request: Request::Ping,
            ack: None,
        }
    }

    #[tokio::test]
    async fn a_full_inbox_refuses_requests_but_waits_for_disconnects() {
        let (handle, mut rx) = NodeHandle::channel(2);
        assert_eq!(handle.try_request(ping(1)), Ok(()));
        assert_eq!(handle.try_request(ping(2)), Ok(()));
        assert_eq!(handle.try_request(ping(3)), Err(NodeError::Busy));
        // A disconnect waits for room instead of being lost.
        let sender = handle.clone();
        let disconnect = tokio::spawn(async move {
            sender
                .send(SessionInput::Disconnect {
                    goodbye: false,
                    endpoint: 1,
                    session: 1,
                })
                .await
        });
        assert!(matches!(
            rx.recv().await,
            Some(SessionInput::Request { id: 1, .. })
        ));
        assert_eq!(disconnect.await.unwrap(), Ok(()));
        assert!(matches!(
            rx.recv().await,
            Some(SessionInput::Request { id: 2, .. })
        ));
        assert!(matches!(
            rx.recv().await,
            Some(SessionInput::Disconnect { endpoint: 1, .. })
        ));
        drop(rx);
        assert_eq!(handle.try_request(ping(4)), Err(NodeError::Stopped));
    }
}
