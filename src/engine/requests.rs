//! The agent's requests: their ids, those sent and waiting for a reply (kept, so that a resumed
//! session can send again what the service did not take), and those waiting for a connection.
//! Plain data on virtual time; the agent decides when to send.

use super::agent::Request;
use super::wire::Outgoing as ClientFrame;
use rtcall_protocol::signal::RequestId;
use std::collections::BTreeMap;

/// Milliseconds since the Unix epoch.
type Millis = u64;

/// How long a request may wait for its reply before it fails.
pub const REQUEST_TIMEOUT: Millis = 15_000;

/// Requests in flight and queued. See the module docs.
#[derive(Debug)]
pub struct Requests {
    next: RequestId,
    /// Sent, not answered: when each times out (`None` while the connection is lost) and the
    /// frame, to send again.
    sent: BTreeMap<RequestId, (Option<Millis>, ClientFrame)>,
    /// Waiting for a connection, in order.
    queued: Vec<ClientFrame>,
}

impl Default for Requests {
    fn default() -> Self {
        Requests {
            next: 1,
            sent: BTreeMap::new(),
            queued: Vec::new(),
        }
    }
}

impl Requests {
    /// A new request id (never 0: 0 names no request).
    pub fn next_id(&mut self) -> RequestId {
        let id = self.next;
        self.next = self.next.wrapping_add(1).max(1);
        id
    }

    /// A frame for `request` under a new id.
    pub fn frame(&mut self, request: Request) -> ClientFrame {
        ClientFrame {
            id: self.next_id(),
            req: request,
            ack: None,
        }
    }

    /// `frame` is sent at `now`: it waits for its reply.
    pub fn sent(&mut self, now: Millis, frame: ClientFrame) {
        self.sent
            .insert(frame.id, (Some(now + REQUEST_TIMEOUT), frame));
    }

    /// `frame` waits for a connection.
    pub fn queue(&mut self, frame: ClientFrame) {
        self.queued.push(frame);
    }

    /// A reply to `id` arrived: whether it was waited for.
    pub fn answered(&mut self, id: RequestId) -> bool {
        self.sent.remove(&id).is_some()
    }

    /// The earliest time a request times out.
    pub fn deadline(&self) -> Option<Millis> {
        self.sent.values().filter_map(|(at, _)| *at).min()
    }

    /// Requests that timed out by `now`, forgotten.
    pub fn expired(&mut self, now: Millis) -> Vec<RequestId> {
        let expired: Vec<RequestId> = self
            .sent
            .iter()
            .filter(|(_, (at, _))| at.is_some_and(|at| now >= at))
            .map(|(id, _)| *id)
            .collect();
        for id in &expired {
            self.sent.remove(id);
        }
        expired
    }

    /// The connection is lost: what was sent waits, with no deadline, for the session to be
    /// resumed.
    pub fn pause(&mut self) {
        for (at, _) in self.sent.values_mut() {
            *at = None;
        }
    }

    /// The session was resumed at `now` and the service had taken requests up to
    /// `last_request`: the frames to send again (those it did not take, then the queued ones).
    /// Everything sent waits for its reply anew.
    pub fn resume(&mut self, now: Millis, last_request: Option<RequestId>) -> Vec<ClientFrame> {
        let taken = last_request.unwrap_or(0);
        let mut again = Vec::new();
        for (id, (at, frame)) in &mut self.sent {
            *at = Some(now + REQUEST_TIMEOUT);
            if *id > taken {
                again.push(frame.clone());
            }
        }
        for frame in std::mem::take(&mut self.queued) {
            self.sent
                .insert(frame.id, (Some(now + REQUEST_TIMEOUT), frame.clone()));
            again.push(frame);
        }
        again
    }

    /// A new session: the queued frames to send now (each then waits for its reply). What was
    /// sent on the old session is returned apart: it fails.
    pub fn restart(&mut self, now: Millis) -> (Vec<ClientFrame>, Vec<RequestId>) {
        let lost = std::mem::take(&mut self.sent).into_keys().collect();
        let queued = std::mem::take(&mut self.queued);
        for frame in &queued {
            self.sent(now, frame.clone());
        }
        (queued, lost)
    }

    /// Everything fails (the session is over for good): the ids, sent first, then queued.
    pub fn fail_all(&mut self) -> Vec<RequestId> {
        let mut failed: Vec<RequestId> = std::mem::take(&mut self.sent).into_keys().collect();
        failed.extend(self.queued.drain(..).map(|f| f.id));
        failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtcall_protocol::call::CallId;

    fn mute(requests: &mut Requests) -> ClientFrame {
        requests.frame(Request::SetMuted {
            call_id: CallId("c".into()),
            muted: true,
        })
    }

    #[test]
    fn a_resumed_session_sends_again_what_the_service_did_not_take_then_the_queue() {
        let mut r = Requests::default();
        let (a, b) = (mute(&mut r), mute(&mut r));
        r.sent(0, a.clone());
        r.sent(0, b.clone());
        r.pause();
        assert_eq!(
            r.deadline(),
            None,
            "no timeouts while the connection is lost"
        );
        let c = mute(&mut r);
        r.queue(c.clone());
        let again = r.resume(100, Some(a.id));
        assert_eq!(again, [b, c]);
        assert_eq!(r.deadline(), Some(100 + REQUEST_TIMEOUT));
        assert!(r.answered(a.id), "a still waits for its reply");
        assert_eq!(r.expired(100 + REQUEST_TIMEOUT).len(), 2);
    }

    #[test]
    fn a_new_session_fails_what_was_sent_and_sends_the_queue() {
        let mut r = Requests::default();
        let a = mute(&mut r);
        r.sent(0, a.clone());
        let b = mute(&mut r);
        r.queue(b.clone());
        let (send, lost) = r.restart(5);
        assert_eq!((send, lost), (vec![b.clone()], vec![a.id]));
        assert_eq!(r.fail_all(), [b.id]);
    }
}
