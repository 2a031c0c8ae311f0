//! The node: the shell that wires the engines, and the only place with sockets, threads and
//! clocks. One task owns the hub and the telephone gateway and moves messages between them,
//! the WebSocket sessions and the media workers ([`media`]), each of which runs an SFU for
//! its share of the calls on a thread and a socket of its own.
//!
//! Each turn of the node's loop takes one input (a session's message, a media event, a
//! datagram or connection for the gateway, or the timer), then pumps until all is idle: hub
//! outputs go to sessions (serialized once per frame, whatever the number of recipients), to
//! the media worker of their call or to the gateway; media and gateway events go to the hub.
//! Every channel between tasks is bounded: a session too slow for its frames is dropped, a
//! worker too slow for its commands makes the node wait, and a node too slow for the sessions
//! makes them wait (a connection, a hang-up, an SDP answer) or refuse the request as busy.

pub mod media;
mod phone;
pub mod placement;
mod sip_tcp;

pub use media::MediaWorkers;
pub use phone::Telephony;

use crate::contract::EndpointId;
use crate::signaling::hub::{Hub, HubOutput};
use crate::signaling::links::{Delivery, Links, ResumeRefusal};
use crate::signaling::{OutgoingFrame, SessionInput};
use rtcall_protocol::signal::ServerFrame;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The largest UDP datagram, so that none is ever cut short on receipt.
pub const MAX_DATAGRAM: usize = 65_535;

/// The node: hub, media workers, telephone gateway and endpoints' links to their sessions.
pub struct Node {
    hub: Hub,
    media: MediaWorkers,
    phone: Option<Telephony>,
    links: Links,
    sessions: mpsc::Receiver<SessionInput>,
}

impl Node {
    /// A node over `hub`, the media workers, and a telephone gateway if there are trunks,
    /// taking sessions' inputs from `sessions`.
    pub fn new(
        hub: Hub,
        media: MediaWorkers,
        phone: Option<Telephony>,
        sessions: mpsc::Receiver<SessionInput>,
    ) -> Node {
        Node {
            hub,
            media,
            phone,
            links: Links::default(),
            sessions,
        }
    }

    /// Runs until every session handle is dropped; the media workers stop with it.
    pub async fn run(mut self) {
        loop {
            let phone_timeout = self.phone.as_ref().and_then(|p| p.gateway.poll_timeout());
            let deadline = [self.hub.poll_timeout(), phone_timeout]
                .into_iter()
                .flatten()
                .min()
                // Far enough to mean "never", near enough for tokio's timer.
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                input = self.sessions.recv() => {
                    let Some(input) = input else { break };
                    self.handle_input(Instant::now(), input);
                }
                Some(event) = self.media.next_event() => self.hub.handle_media(Instant::now(), event),
                () = receive(self.phone.as_mut()) => {}
                _ = tokio::time::sleep_until(deadline.into()) => {
                    let now = Instant::now();
                    self.hub.handle_timeout(now);
                    if let Some(phone) = &mut self.phone {
                        phone.gateway.handle_timeout(now);
                    }
                }
            }
            self.pump().await;
        }
    }

    fn handle_input(&mut self, now: Instant, input: SessionInput) {
        match input {
            SessionInput::Connect {
                endpoint,
                session,
                identity,
                display_name,
                secret,
                outbox,
            } => {
                self.links
                    .connect(endpoint, identity.clone(), secret, session, outbox);
                self.hub
                    .handle_connect(now, endpoint, identity, display_name);
            }
            SessionInput::Resume {
                endpoint,
                session,
                identity,
                secret,
                last_seq,
                new_secret,
                outbox,
                answer,
            } => {
                let resumed = self.links.resume(
                    endpoint,
                    (&identity, &secret, last_seq),
                    (session, outbox, new_secret),
                );
                match resumed {
                    Ok(resumed) => {
                        self.hub.handle_resume(now, endpoint);
                        let _ = answer.send(Some(resumed));
                    }
                    Err(refusal) => {
                        if refusal == ResumeRefusal::Lost {
                            tracing::info!(
                                endpoint,
                                "a session behind its kept frames cannot resume"
                            );
                            self.hub.handle_gone(now, endpoint);
                        }
                        let _ = answer.send(None);
                    }
                }
            }
            SessionInput::Disconnect {
                endpoint,
                session,
                goodbye,
            } => {
                if self.links.lose_socket(endpoint, session) {
                    if goodbye {
                        self.hub.handle_gone(now, endpoint);
                    } else {
                        self.hub.handle_disconnect(now, endpoint);
                    }
                }
            }
            SessionInput::Request {
                endpoint,
                session,
                id,
                request,
                ack,
            } => {
                // A session the endpoint left behind (it resumed on a new socket) is not heard.
                if self.links.is_current(endpoint, session) {
                    self.links.took_request(endpoint, id, ack);
                    self.hub.handle_request(now, endpoint, id, request);
                }
            }
        }
    }

    /// Moves outputs between the hub, the sessions, the media workers and the gateway until
    /// all are idle.
    async fn pump(&mut self) {
        loop {
            let now = Instant::now();
            let mut idle = true;
            while let Some(output) = self.hub.poll_output() {
                idle = false;
                match output {
                    HubOutput::Send { to, frame } => self.deliver(now, &to, *frame),
                    HubOutput::Gone { endpoint } => self.links.forget(endpoint),
                    HubOutput::Media(command) => {
                        let (route, lost) = self.media.send(command).await;
                        for event in lost {
                            self.hub.handle_media(now, event);
                        }
                        if route.freed {
                            self.settle(route.worker).await;
                        }
                    }
                    HubOutput::Phone(command) => {
                        if let Some(phone) = &mut self.phone {
                            phone.gateway.handle_command(now, command);
                        }
                    }
                }
            }
            if let Some(phone) = &mut self.phone {
                while let Some(event) = phone.gateway.poll_event() {
                    idle = false;
                    self.hub.handle_phone(now, event);
                }
                phone.flush();
            }
            while let Some(event) = self.media.try_event() {
                idle = false;
                self.hub.handle_media(now, event);
            }
            if idle {
                break;
            }
        }
    }

    /// A call left `worker`: the hub hears everything the worker's SFU said before, so that an
    /// event about one of the call's legs cannot reach a new call of the same id (a group call
    /// started again reuses its participants' keys). Other workers' events are taken meanwhile.
    async fn settle(&mut self, worker: usize) {
        let mut flushed = std::pin::pin!(self.media.flush(worker).await);
        loop {
            tokio::select! {
                _ = &mut flushed => break,
                Some(event) = self.media.next_event() => self.hub.handle_media(Instant::now(), event),
            }
        }
        while let Some(event) = self.media.try_event() {
            self.hub.handle_media(Instant::now(), event);
        }
    }

    /// Numbers a frame, serializes it once and gives it to each endpoint's link; an endpoint
    /// whose socket queue is full is too slow to keep up and loses its socket (its calls wait
    /// for it to resume, with what it missed kept).
    fn deliver(&mut self, now: Instant, to: &[EndpointId], mut frame: ServerFrame) {
        let seq = self.links.next_seq();
        frame.seq = Some(seq);
        let text: OutgoingFrame = match serde_json::to_string(&frame) {
            Ok(text) => text.into(),
            Err(e) => {
                tracing::error!(error = %e, "cannot serialize a frame");
                return;
            }
        };
        for endpoint in to {
            if self.links.deliver(*endpoint, seq, &text) == Delivery::Overflowed {
                tracing::warn!(endpoint, "endpoint too slow; its socket is dropped");
                self.hub.handle_disconnect(now, *endpoint);
            }
        }
    }
}

/// The next thing for the telephone gateway; never, without one.
async fn receive(phone: Option<&mut Telephony>) {
    match phone {
        Some(phone) => phone.receive().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sfu::SfuConfig;
    use crate::signaling::hub::HubConfig;
    use crate::signaling::NodeHandle;
    use rtcall_protocol::call::CallId;
    use rtcall_protocol::signal::{Event, Request};

    /// A node with its hub and one media worker, running; the handle that feeds it.
    fn node() -> NodeHandle {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let config = SfuConfig::local(socket.local_addr().unwrap());
        let advertised = socket.local_addr().unwrap();
        let media = MediaWorkers::start(
            &config,
            vec![vec![media::MediaSocket { socket, advertised }]],
        )
        .unwrap();
        let hub = Hub::new(HubConfig::default(), Box::new(|_| true));
        let (handle, sessions) = NodeHandle::channel(64);
        tokio::spawn(Node::new(hub, media, None, sessions).run());
        handle
    }

    async fn connect(node: &NodeHandle, endpoint: EndpointId) -> mpsc::Receiver<OutgoingFrame> {
        let (outbox, frames) = mpsc::channel(64);
        let connect = SessionInput::Connect {
            endpoint,
            session: endpoint,
            identity: format!("8:acs:r_{endpoint}"),
            display_name: String::new(),
            secret: String::new(),
            outbox,
        };
        node.send(connect).await.unwrap();
        frames
    }

    async fn request(node: &NodeHandle, endpoint: EndpointId, id: u32, request: Request) {
        let input = SessionInput::Request {
            endpoint,
            session: endpoint,
            id,
            request,
            ack: None,
        };
        node.send(input).await.unwrap();
    }

    #[tokio::test]
    async fn a_group_call_started_again_hears_nothing_of_the_one_before() {
        let node = node();
        let group = CallId("g".into());
        let join = || Request::JoinGroup {
            group_id: "g".into(),
            muted: false,
            lobby: false,
        };
        let _alice = connect(&node, 1).await;
        let mut bob = connect(&node, 2).await;
        // Alice joins and leaves at once (her call's media opens and offers meanwhile), then
        // Bob joins the group anew: he is participant 0 of the new call, as Alice was.
        request(&node, 1, 1, join()).await;
        request(
            &node,
            1,
            2,
            Request::HangUp {
                call_id: group.clone(),
                for_everyone: false,
            },
        )
        .await;
        request(&node, 2, 1, join()).await;
        // Bob, alone in the call, gets exactly one offer: his connection's, never Alice's. A
        // stale one would come first (the worker said it before Bob's connection existed), so
        // after the first, a short wait shows whether another follows.
        let mut offers = 0;
        let mut deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while let Ok(Some(text)) = tokio::time::timeout_at(deadline, bob.recv()).await {
            let frame: ServerFrame = serde_json::from_str(&text).unwrap();
            if let Some(Event::SdpOffer { call_id, .. }) = frame.ev {
                assert_eq!(call_id, group);
                offers += 1;
                deadline = tokio::time::Instant::now() + Duration::from_millis(500);
            }
        }
        assert_eq!(offers, 1);
    }
}
