//! The transaction layer under a call's dialog (RFC 3261 §17): over UDP every request and
//! every final response to an INVITE is sent again until it is answered — timers A and E
//! (requests; an INVITE's interval doubles without bound, the others' stop at T2) and G
//! (final responses) — and a transaction that gets no answer within 64·T1 gives up (timers B,
//! F and H). Over TCP the connection is reliable: nothing is resent, transactions only time
//! out. Sans-IO: the dialog starts and finishes transactions; time goes in, resends and the
//! transactions that gave up come out.

use crate::message::Message;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// RFC 3261's round-trip estimate: the first retransmission interval.
pub const T1: Duration = Duration::from_millis(500);
/// The longest retransmission interval of non-INVITE requests and of 2xx responses.
pub const T2: Duration = Duration::from_secs(4);
/// How long a transaction may take (64·T1): timers B, F and H.
pub const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(32);

/// How SIP travels: over UDP every request and final response is resent until answered;
/// over TCP the connection is reliable and nothing is (RFC 3261 §17, timers A, E and G).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    /// As Via writes it.
    pub(crate) fn via_name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }

    /// The Contact URI of the gateway at `local` over this transport.
    pub(crate) fn contact(self, local: SocketAddr) -> String {
        match self {
            Transport::Udp => format!("<sip:rtcall@{local}>"),
            Transport::Tcp => format!("<sip:rtcall@{local};transport=tcp>"),
        }
    }

    /// The transport a request came over, from its top Via.
    pub fn of(request: &Message) -> Transport {
        let via = request.header("Via").unwrap_or_default();
        match via.get(..11) {
            Some(sent) if sent.eq_ignore_ascii_case("SIP/2.0/TCP") => Transport::Tcp,
            _ => Transport::Udp,
        }
    }

    /// When to resend a message first sent at `now`: never over a reliable transport.
    fn first_resend(self, now: Instant) -> Option<Instant> {
        match self {
            Transport::Udp => Some(now + T1),
            Transport::Tcp => None,
        }
    }
}

/// What a transaction is for; a call has at most one of each at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    Invite,
    Cancel,
    Bye,
    /// Our final response to an incoming INVITE, until its ACK.
    FinalResponse,
}

/// A request or response sent again until answered.
#[derive(Debug)]
struct Pending {
    purpose: Purpose,
    bytes: Vec<u8>,
    next: Option<Instant>,
    interval: Duration,
    /// Whether the interval stops growing at T2 (all but INVITE).
    capped: bool,
    deadline: Instant,
}

/// A call's transactions under way.
#[derive(Debug)]
pub(crate) struct Transactions {
    transport: Transport,
    pending: Vec<Pending>,
}

impl Transactions {
    /// No transactions yet, over `transport`.
    pub(crate) fn new(transport: Transport) -> Transactions {
        Transactions {
            transport,
            pending: Vec::new(),
        }
    }

    /// How its SIP travels.
    pub(crate) fn transport(&self) -> Transport {
        self.transport
    }

    /// Starts the transaction `purpose` (replacing one of the same purpose): `bytes`, just sent,
    /// are sent again until it finishes or gives up.
    pub(crate) fn start(&mut self, now: Instant, purpose: Purpose, bytes: Vec<u8>) {
        self.finish(purpose);
        self.pending.push(Pending {
            purpose,
            bytes,
            next: self.transport.first_resend(now),
            interval: T1,
            capped: purpose != Purpose::Invite,
            deadline: now + TRANSACTION_TIMEOUT,
        });
    }

    /// Its answer came: nothing more to send for `purpose`.
    pub(crate) fn finish(&mut self, purpose: Purpose) {
        self.pending.retain(|p| p.purpose != purpose);
    }

    /// A provisional response came: the request is not sent again, but a final response must
    /// still come, by the transaction's deadline or `wait_until`, whichever is later.
    pub(crate) fn stop_resending(&mut self, purpose: Purpose, wait_until: Option<Instant>) {
        for p in self.pending.iter_mut().filter(|p| p.purpose == purpose) {
            p.next = None;
            p.deadline = p.deadline.max(wait_until.unwrap_or(p.deadline));
        }
    }

    /// Whether no transaction is under way.
    pub(crate) fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// When [`Transactions::handle_timeout`] should next run.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.pending
            .iter()
            .flat_map(|p| [p.next, Some(p.deadline)])
            .flatten()
            .min()
    }

    /// Time passed: what is due is sent again (into `resend`); returns the transactions
    /// that gave up, which are over.
    pub(crate) fn handle_timeout(
        &mut self,
        now: Instant,
        resend: &mut VecDeque<Vec<u8>>,
    ) -> Vec<Purpose> {
        let mut expired = Vec::new();
        for p in &mut self.pending {
            if now >= p.deadline {
                expired.push(p.purpose);
                continue;
            }
            if let Some(next) = p.next.filter(|&next| now >= next) {
                resend.push_back(p.bytes.clone());
                p.interval = if p.capped {
                    (p.interval * 2).min(T2)
                } else {
                    p.interval * 2
                };
                p.next = Some(next + p.interval);
            }
        }
        self.pending.retain(|p| now < p.deadline);
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resends(t: &mut Transactions, from: Instant, seconds: u64) -> Vec<(u64, Vec<Purpose>)> {
        let mut out = Vec::new();
        for ms in (0..=seconds * 1000).step_by(250) {
            let mut resend = VecDeque::new();
            let expired = t.handle_timeout(from + Duration::from_millis(ms), &mut resend);
            if !resend.is_empty() || !expired.is_empty() {
                out.push((ms, expired));
            }
        }
        out
    }

    #[test]
    fn over_udp_requests_are_resent_doubling_until_t2_and_give_up_at_64_t1() {
        let now = Instant::now();
        let mut t = Transactions::new(Transport::Udp);
        t.start(now, Purpose::Bye, b"BYE".to_vec());
        let seen: Vec<u64> = resends(&mut t, now, 40)
            .into_iter()
            .map(|(ms, _)| ms)
            .collect();
        // 0.5, 1.5, 3.5, 7.5, then every 4 s, until 32 s.
        assert_eq!(&seen[..6], [500, 1500, 3500, 7500, 11500, 15500]);
        assert_eq!(*seen.last().unwrap(), 32000);
        assert!(t.is_empty());
    }

    #[test]
    fn an_invite_doubles_without_bound_and_stops_resending_after_a_provisional() {
        let now = Instant::now();
        let mut t = Transactions::new(Transport::Udp);
        t.start(now, Purpose::Invite, b"INVITE".to_vec());
        let seen: Vec<u64> = resends(&mut t, now, 20)
            .into_iter()
            .map(|(ms, _)| ms)
            .collect();
        assert_eq!(seen, [500, 1500, 3500, 7500, 15500]);
        let mut t = Transactions::new(Transport::Udp);
        t.start(now, Purpose::Invite, b"INVITE".to_vec());
        t.stop_resending(Purpose::Invite, Some(now + Duration::from_secs(60)));
        let seen = resends(&mut t, now, 70);
        // Nothing resent; it gives up when the phone has rung long enough.
        assert_eq!(seen, [(60000, vec![Purpose::Invite])]);
    }

    #[test]
    fn over_tcp_nothing_is_resent_but_transactions_still_time_out() {
        let now = Instant::now();
        let mut t = Transactions::new(Transport::Tcp);
        t.start(now, Purpose::FinalResponse, b"200".to_vec());
        assert_eq!(
            resends(&mut t, now, 40),
            [(32000, vec![Purpose::FinalResponse])]
        );
        // A finished transaction leaves nothing.
        t.start(now, Purpose::Cancel, b"CANCEL".to_vec());
        t.finish(Purpose::Cancel);
        assert!(t.is_empty() && t.poll_timeout().is_none());
    }
}
