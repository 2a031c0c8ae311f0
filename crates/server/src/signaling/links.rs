//! Each endpoint's link to its client, which outlives any one WebSocket: the session that
//! carries it now (none while it is away), the frames sent to it and not yet acknowledged
//! (numbered, so that a resumed session gets exactly what it missed), the secret that resumes
//! it, and the last request it sent. Plain data: the node keeps one [`Links`] and asks it where
//! a frame goes and whether a `hello` may resume a session.

use super::{OutgoingFrame, SessionId};
use crate::contract::EndpointId;
use rtcall_protocol::signal::RequestId;
use std::collections::{HashMap, VecDeque};
use tokio::sync::mpsc;

/// Frames kept for one endpoint, at most: past that the oldest go, and a session that had not
/// received them can no longer be resumed.
pub const KEPT_FRAMES: usize = 4096;
/// Bytes of frames kept for one endpoint, at most (same rule).
pub const KEPT_BYTES: usize = 4 << 20;

/// Why a session was not resumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumeRefusal {
    /// No such endpoint, another identity's, or a secret that is not its current one: nothing
    /// changes.
    Unknown,
    /// The rightful owner, but frames it had not received are gone: the endpoint's session is
    /// over.
    Lost,
}

/// A resumed link: the frames the session missed, oldest first, and the last request the
/// service took from it.
#[derive(Debug)]
pub struct Resumed {
    /// Frames after the client's last one.
    pub missed: Vec<OutgoingFrame>,
    /// The last request id taken.
    pub last_request: Option<RequestId>,
}

/// What became of a frame given to an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Queued on its socket (or kept for it while it is away).
    Queued,
    /// Its socket's queue is full: the session is too slow and loses its socket (the frame is
    /// kept for when it resumes).
    Overflowed,
    /// No such endpoint.
    Unknown,
}

struct Link {
    identity: String,
    secret: String,
    /// The secret before the last resume, valid until the session it gave speaks (its welcome,
    /// with the new secret, may have been lost with the socket).
    previous_secret: Option<String>,
    /// The session that carries the link, and its socket's queue (`None`: away).
    session: SessionId,
    outbox: Option<mpsc::Sender<OutgoingFrame>>,
    /// Frames not yet acknowledged, by number.
    kept: VecDeque<(u64, OutgoingFrame)>,
    kept_bytes: usize,
    /// The highest number of a frame let go unacknowledged: a client behind it lost frames.
    lost_through: u64,
    last_request: Option<RequestId>,
}

/// Every endpoint's link. See the module docs.
#[derive(Default)]
pub struct Links {
    links: HashMap<EndpointId, Link>,
    next_seq: u64,
}

impl std::fmt::Debug for Links {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Links")
            .field("endpoints", &self.links.len())
            .finish()
    }
}

/// Compares secrets in time that does not depend on where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Links {
    /// The number the next frame gets (frames are numbered once, whatever their recipients).
    pub fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// A new endpoint, carried by `session`.
    pub fn connect(
        &mut self,
        endpoint: EndpointId,
        identity: String,
        secret: String,
        session: SessionId,
        outbox: mpsc::Sender<OutgoingFrame>,
    ) {
        self.links.insert(
            endpoint,
            Link {
                identity,
                secret,
                previous_secret: None,
                session,
                outbox: Some(outbox),
                kept: VecDeque::new(),
                kept_bytes: 0,
                lost_through: 0,
                last_request: None,
            },
        );
    }

    /// Whether `session` carries the endpoint now (an older session's inputs are stale).
    pub fn is_current(&self, endpoint: EndpointId, session: SessionId) -> bool {
        self.links
            .get(&endpoint)
            .is_some_and(|l| l.session == session && l.outbox.is_some())
    }

    /// The current session of the endpoint lost its socket: frames are kept for it. `false`
    /// if `session` is not the current one (nothing changes).
    pub fn lose_socket(&mut self, endpoint: EndpointId, session: SessionId) -> bool {
        match self.links.get_mut(&endpoint) {
            Some(link) if link.session == session && link.outbox.is_some() => {
                link.outbox = None;
                true
            }
            _ => false,
        }
    }

    /// The endpoint is gone for good.
    pub fn forget(&mut self, endpoint: EndpointId) {
        self.links.remove(&endpoint);
    }

    /// A request arrived from the endpoint, acknowledging frames up to `ack`.
    pub fn took_request(&mut self, endpoint: EndpointId, id: RequestId, ack: Option<u64>) {
        let Some(link) = self.links.get_mut(&endpoint) else {
            return;
        };
        link.last_request = Some(id);
        // The session that made this request had its welcome: its old secret is spent.
        link.previous_secret = None;
        if let Some(ack) = ack {
            while link.kept.front().is_some_and(|(seq, _)| *seq <= ack) {
                if let Some((_, frame)) = link.kept.pop_front() {
                    link.kept_bytes -= frame.len();
                }
            }
        }
    }

    /// Gives the endpoint frame `seq`: kept until acknowledged, and queued on its socket if it
    /// has one.
    pub fn deliver(&mut self, endpoint: EndpointId, seq: u64, frame: &OutgoingFrame) -> Delivery {
        let Some(link) = self.links.get_mut(&endpoint) else {
            return Delivery::Unknown;
        };
        link.kept.push_back((seq, OutgoingFrame::clone(frame)));
        link.kept_bytes += frame.len();
        while link.kept.len() > KEPT_FRAMES || link.kept_bytes > KEPT_BYTES {
            let Some((seq, old)) = link.kept.pop_front() else {
                break;
            };
            link.kept_bytes -= old.len();
            link.lost_through = seq;
        }
        match &link.outbox {
            Some(outbox) if outbox.try_send(OutgoingFrame::clone(frame)).is_err() => {
                link.outbox = None;
                Delivery::Overflowed
            }
            _ => Delivery::Queued,
        }
    }

    /// A `hello` of `identity` asks to resume the endpoint with `secret`, having received
    /// frames up to `last_seq`. Resumed: `session` carries it from now on (an older session's
    /// socket is let go), `new_secret` is what resumes it next, and the missed frames are
    /// returned.
    pub fn resume(
        &mut self,
        endpoint: EndpointId,
        (identity, secret, last_seq): (&str, &str, u64),
        (session, outbox, new_secret): (SessionId, mpsc::Sender<OutgoingFrame>, String),
    ) -> Result<Resumed, ResumeRefusal> {
        let link = self
            .links
            .get_mut(&endpoint)
            .filter(|l| {
                l.identity == identity
                    && (same_secret(&l.secret, secret)
                        || l.previous_secret
                            .as_deref()
                            .is_some_and(|p| same_secret(p, secret)))
            })
            .ok_or(ResumeRefusal::Unknown)?;
        if link.lost_through > last_seq {
            return Err(ResumeRefusal::Lost);
        }
        link.session = session;
        link.outbox = Some(outbox);
        link.secret = new_secret;
        link.previous_secret = Some(secret.to_owned());
        let missed = link
            .kept
            .iter()
            .filter(|(seq, _)| *seq > last_seq)
            .map(|(_, frame)| OutgoingFrame::clone(frame))
            .collect();
        Ok(Resumed {
            missed,
            last_request: link.last_request,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(text: &str) -> OutgoingFrame {
        text.into()
    }

    fn linked() -> (Links, mpsc::Receiver<OutgoingFrame>) {
        let mut links = Links::default();
        let (outbox, socket) = mpsc::channel(8);
        links.connect(1, "8:acs:r_a".into(), "s1".into(), 10, outbox);
        (links, socket)
    }

    fn deliver(links: &mut Links, text: &str) -> u64 {
        let seq = links.next_seq();
        assert_eq!(links.deliver(1, seq, &frame(text)), Delivery::Queued);
        seq
    }

    #[test]
    fn a_resumed_session_gets_what_it_missed_in_order_and_its_secret_changes() {
        let (mut links, mut socket) = linked();
        let first = deliver(&mut links, "a");
        deliver(&mut links, "b");
        assert!(links.lose_socket(1, 10));
        deliver(&mut links, "c");
        assert_eq!(socket.try_recv().as_deref().ok(), Some("a"));
        let (outbox, mut again) = mpsc::channel(8);
        let resumed = links
            .resume(1, ("8:acs:r_a", "s1", first), (11, outbox, "s2".into()))
            .unwrap();
        let missed: Vec<&str> = resumed.missed.iter().map(|f| &**f).collect();
        assert_eq!(missed, ["b", "c"]);
        assert!(links.is_current(1, 11));
        assert!(!links.is_current(1, 10));
        deliver(&mut links, "d");
        assert_eq!(again.try_recv().as_deref().ok(), Some("d"));
        // Once the new session has spoken (it had its welcome), the old secret resumes nothing
        // any more, and changes nothing.
        links.took_request(1, 7, None);
        let (outbox, _) = mpsc::channel(8);
        let replayed = links.resume(1, ("8:acs:r_a", "s1", first), (12, outbox, "s3".into()));
        assert_eq!(replayed.unwrap_err(), ResumeRefusal::Unknown);
        assert!(links.is_current(1, 11));
    }

    #[test]
    fn a_welcome_lost_with_its_socket_leaves_the_old_secret_valid() {
        let (mut links, _socket) = linked();
        assert!(links.lose_socket(1, 10));
        let (outbox, _) = mpsc::channel(8);
        links
            .resume(1, ("8:acs:r_a", "s1", 0), (11, outbox, "s2".into()))
            .unwrap();
        // The socket went before the welcome with s2 arrived: the client still has s1.
        assert!(links.lose_socket(1, 11));
        let (outbox, _) = mpsc::channel(8);
        links
            .resume(1, ("8:acs:r_a", "s1", 0), (12, outbox, "s3".into()))
            .unwrap();
        assert!(links.is_current(1, 12));
        // Still another identity's to take: no.
        assert!(links.lose_socket(1, 12));
        let (outbox, _) = mpsc::channel(8);
        let other = links.resume(1, ("8:acs:r_b", "s1", 0), (13, outbox, "x".into()));
        assert_eq!(other.unwrap_err(), ResumeRefusal::Unknown);
    }

    #[test]
    fn another_identity_or_secret_resumes_nothing() {
        let (mut links, _socket) = linked();
        for (identity, secret) in [("8:acs:r_b", "s1"), ("8:acs:r_a", "s0"), ("8:acs:r_a", "")] {
            let (outbox, _) = mpsc::channel(8);
            let attempt = links.resume(1, (identity, secret, 0), (20, outbox, "x".into()));
            assert_eq!(attempt.unwrap_err(), ResumeRefusal::Unknown);
        }
        let (outbox, _) = mpsc::channel(8);
        let unknown = links.resume(2, ("8:acs:r_a", "s1", 0), (20, outbox, "x".into()));
        assert_eq!(unknown.unwrap_err(), ResumeRefusal::Unknown);
        assert!(links.is_current(1, 10));
    }

    #[test]
    fn acknowledged_frames_are_let_go_and_unacknowledged_ones_kept_up_to_a_bound() {
        let (mut links, _socket) = linked();
        let acked = deliver(&mut links, "a");
        links.took_request(1, 5, Some(acked));
        assert!(links.lose_socket(1, 10));
        for _ in 0..KEPT_FRAMES {
            deliver(&mut links, "x");
        }
        // Nothing was lost yet: a client that got "a" resumes with all that followed.
        let (outbox, _) = mpsc::channel(8);
        let resumed = links
            .resume(1, ("8:acs:r_a", "s1", acked), (11, outbox, "s2".into()))
            .unwrap();
        assert_eq!(resumed.missed.len(), KEPT_FRAMES);
        assert_eq!(resumed.last_request, Some(5));
        // One more while away pushes the oldest unacknowledged frame out: that client is lost.
        assert!(links.lose_socket(1, 11));
        deliver(&mut links, "y");
        let (outbox, _) = mpsc::channel(8);
        let lost = links.resume(1, ("8:acs:r_a", "s2", acked), (12, outbox, "s3".into()));
        assert_eq!(lost.unwrap_err(), ResumeRefusal::Lost);
    }

    #[test]
    fn a_full_socket_queue_loses_the_socket_but_keeps_the_frames() {
        let mut links = Links::default();
        let (outbox, _socket) = mpsc::channel(1);
        links.connect(1, "8:acs:r_a".into(), "s1".into(), 10, outbox);
        let seq = links.next_seq();
        assert_eq!(links.deliver(1, seq, &frame("a")), Delivery::Queued);
        let seq = links.next_seq();
        assert_eq!(links.deliver(1, seq, &frame("b")), Delivery::Overflowed);
        assert!(!links.is_current(1, 10));
        let (outbox, _) = mpsc::channel(8);
        let resumed = links
            .resume(1, ("8:acs:r_a", "s1", 0), (11, outbox, "s2".into()))
            .unwrap();
        assert_eq!(resumed.missed.len(), 2);
    }
}
