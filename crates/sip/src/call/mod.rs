//! One telephone call's SIP side, sans-IO: [`SipCall`] takes messages from the trunk, the
//! gateway's decisions (hang up, answer, reject) and the time, and gives back datagrams to send,
//! [`CallEvent`]s and when it next needs the time. It holds the INVITE dialog (RFC 3261 §12)
//! and digest authentication; what is resent and when transactions give up is the
//! [`transaction`](crate::transaction) layer's.
//!
//! ```
//! use rtcall_sip::call::{CallEvent, Dial, SipCall};
//! use rtcall_sip::g711::Law;
//! use rtcall_sip::message::Message;
//! use rtcall_sip::sdp::{AudioDescription, Direction};
//! use std::time::Instant;
//!
//! let now = Instant::now();
//! let offer = AudioDescription {
//!     address: "127.0.0.1".parse().unwrap(),
//!     port: 30000,
//!     laws: vec![Law::Ulaw, Law::Alaw],
//!     telephone_event: Some(101),
//!     direction: Direction::SendRecv,
//! };
//! let dial = Dial {
//!     local: "127.0.0.1:5070".parse().unwrap(),
//!     trunk_host: "trunk.example.com".into(),
//!     to: "+14255550123".into(),
//!     from: "+14255550100".into(),
//!     credentials: None,
//!     call_id: "c1@rtcall".into(),
//!     tag: "t1".into(),
//!     ring_timeout: std::time::Duration::from_secs(60),
//!     transport: rtcall_sip::call::Transport::Udp,
//! };
//! let mut call = SipCall::dial(now, dial, &offer);
//! let invite = Message::parse(&call.poll_transmit().unwrap()).unwrap();
//! assert_eq!(invite.cseq().unwrap().0, 1);
//! // The trunk rings.
//! let ringing = Message::response_to(&invite, 180, "Ringing", Some("far"));
//! call.receive(now, &ringing);
//! assert_eq!(call.poll_event(), Some(CallEvent::Ringing));
//! ```

use crate::digest::Challenge;
use crate::message::{uri_of, uri_user, Message, Method, StartLine};
use crate::sdp::AudioDescription;
use crate::transaction::{Purpose, Transactions};

mod sending;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub use crate::transaction::Transport;

/// What the gateway learns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallEvent {
    /// The trunk took the INVITE (100 Trying).
    Trying,
    /// The phone rings (180).
    Ringing,
    /// Audio before the answer (183, or 180 with SDP): play it.
    EarlyMedia(AudioDescription),
    /// Answered, with the phone side's audio.
    Answered(AudioDescription),
    /// An incoming call's offer (the gateway rings someone, then answers or rejects).
    Offered(AudioDescription),
    /// The call is over for the gateway (the SIP side may still finish its last transaction).
    Ended(EndCause),
}

/// Why a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndCause {
    /// The phone side hung up (BYE).
    RemoteHangUp,
    /// The gateway hung up (BYE or CANCEL sent).
    LocalHangUp,
    /// The trunk refused the call: its final response.
    Rejected { code: u16, reason: String },
    /// The caller gave up before the gateway answered (CANCEL received).
    CallerCancelled,
    /// The trunk stopped answering (code 408).
    Timeout,
}

impl EndCause {
    /// The SIP status that best describes the end (what ACS puts in a call end reason's
    /// sub-code as 560000 + status).
    pub fn sip_code(&self) -> u16 {
        match self {
            EndCause::RemoteHangUp | EndCause::LocalHangUp => 0,
            EndCause::Rejected { code, .. } => *code,
            EndCause::CallerCancelled => 487,
            EndCause::Timeout => 408,
        }
    }
}

/// Trunk credentials for digest authentication.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password, wherever a call gets logged.
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// An outgoing call's parameters.
#[derive(Debug, Clone)]
pub struct Dial {
    /// The gateway's SIP address (Via and Contact).
    pub local: SocketAddr,
    /// The trunk's host (the Request-URI's domain).
    pub trunk_host: String,
    /// The number called, E.164.
    pub to: String,
    /// The caller id, E.164.
    pub from: String,
    pub credentials: Option<Credentials>,
    /// Unique per call (the shell makes it random).
    pub call_id: String,
    /// Our From tag (random).
    pub tag: String,
    /// How long the phone may ring unanswered before the call is cancelled (ends 480).
    pub ring_timeout: Duration,
    /// How SIP travels to the trunk.
    pub transport: Transport,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Outgoing: INVITE sent, no answer yet.
    Calling,
    /// Outgoing: a provisional response came.
    Early,
    /// Incoming: offered, not answered.
    Offered,
    /// Answered both ways.
    Confirmed,
    /// Over for the gateway; transactions may still be finishing.
    Ended,
}

/// One call's SIP dialog and transactions.
#[derive(Debug)]
pub struct SipCall {
    state: State,
    outgoing: bool,
    local: SocketAddr,
    call_id: String,
    local_tag: String,
    remote_tag: Option<String>,
    /// Our URI (From of our requests) and theirs (To).
    local_uri: String,
    remote_uri: String,
    /// Where in-dialog requests go (the far Contact), and through which proxies.
    remote_target: String,
    route_set: Vec<String>,
    local_cseq: u32,
    /// The INVITE we sent (outgoing) or received (incoming).
    invite: Message,
    credentials: Option<Credentials>,
    /// A nonce we already answered: a second challenge for it means wrong credentials.
    answered_nonce: Option<String>,
    branches: u32,
    /// Our SDP, kept to answer re-INVITEs with.
    local_sdp: Vec<u8>,
    /// Hang-up asked for before any provisional response (CANCEL must wait for one).
    cancel_pending: bool,
    /// When an outgoing call stops ringing.
    ring_deadline: Option<Instant>,
    transactions: Transactions,
    transmits: VecDeque<Vec<u8>>,
    events: VecDeque<CallEvent>,
}

impl SipCall {
    /// Starts an outgoing call: an INVITE with `offer` is ready to send.
    pub fn dial(now: Instant, dial: Dial, offer: &AudioDescription) -> SipCall {
        let remote_uri = format!("sip:{}@{}", dial.to, dial.trunk_host);
        let local_uri = format!("sip:{}@{}", dial.from, dial.local.ip());
        let local_sdp = offer.write(1, 1);
        let mut invite = Message::request(Method::Invite, remote_uri.clone());
        invite
            .push("Via", "")
            .push("Max-Forwards", "70")
            .push("From", format!("<{local_uri}>;tag={}", dial.tag))
            .push("To", format!("<{remote_uri}>"))
            .push("Call-ID", dial.call_id.clone())
            .push("CSeq", "1 INVITE")
            .push("Contact", dial.transport.contact(dial.local))
            .push("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO")
            .push("User-Agent", "rtcall")
            .set_body("application/sdp", local_sdp.clone());
        let mut call = SipCall {
            state: State::Calling,
            outgoing: true,
            local: dial.local,
            call_id: dial.call_id,
            local_tag: dial.tag,
            remote_tag: None,
            local_uri,
            remote_target: remote_uri.clone(),
            remote_uri,
            route_set: Vec::new(),
            local_cseq: 1,
            invite,
            credentials: dial.credentials,
            answered_nonce: None,
            branches: 0,
            local_sdp,
            cancel_pending: false,
            ring_deadline: Some(now + dial.ring_timeout),
            transactions: Transactions::new(dial.transport),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        };
        call.send_invite(now);
        call
    }

    /// Takes an incoming INVITE (already known to be for this gateway): answers 100 Trying and
    /// reports the offer, or ends at once with 488 if there is no usable offer.
    pub fn incoming(now: Instant, local: SocketAddr, invite: &Message, tag: String) -> SipCall {
        let from = invite.header("From").unwrap_or_default();
        let to = invite.header("To").unwrap_or_default();
        let mut call = SipCall {
            state: State::Offered,
            outgoing: false,
            local,
            call_id: invite.call_id().unwrap_or_default().to_owned(),
            local_tag: tag,
            remote_tag: invite.from_tag().map(str::to_owned),
            local_uri: uri_of(to).to_owned(),
            remote_uri: uri_of(from).to_owned(),
            remote_target: invite
                .header("Contact")
                .map_or_else(|| uri_of(from).to_owned(), |c| uri_of(c).to_owned()),
            // A UAS keeps Record-Route in order (RFC 3261 §12.1.1).
            route_set: invite.headers("Record-Route").map(str::to_owned).collect(),
            local_cseq: 0,
            invite: invite.clone(),
            credentials: None,
            answered_nonce: None,
            branches: 0,
            local_sdp: Vec::new(),
            cancel_pending: false,
            ring_deadline: None,
            transactions: Transactions::new(Transport::of(invite)),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        };
        call.respond(invite, 100, "Trying", None);
        match AudioDescription::parse(&invite.body) {
            Ok(offer) => call.events.push_back(CallEvent::Offered(offer)),
            Err(_) => call.reject(now, 488, "Not Acceptable Here"),
        }
        call
    }

    /// How its SIP travels.
    pub fn transport(&self) -> Transport {
        self.transactions.transport()
    }

    /// The dialog's Call-ID (how the gateway routes messages to this call).
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// The next datagram for the trunk.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<CallEvent> {
        self.events.pop_front()
    }

    /// When [`SipCall::handle_timeout`] should next run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let ring = self.ring_deadline.filter(|_| self.state != State::Ended);
        self.transactions
            .poll_timeout()
            .into_iter()
            .chain(ring)
            .min()
    }

    /// Nothing left to do: the gateway can drop the call.
    pub fn is_done(&self) -> bool {
        self.state == State::Ended && self.transactions.is_empty() && self.transmits.is_empty()
    }

    /// Whether the call is answered and not over.
    pub fn is_confirmed(&self) -> bool {
        self.state == State::Confirmed
    }

    /// Time passed: retransmissions, timeouts.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.ring_deadline.is_some_and(|d| now >= d)
            && matches!(self.state, State::Calling | State::Early)
        {
            self.ring_deadline = None;
            self.hang_up_as(
                now,
                EndCause::Rejected {
                    code: 480,
                    reason: "No Answer".into(),
                },
            );
        }
        let expired = self.transactions.handle_timeout(now, &mut self.transmits);
        for purpose in expired {
            match purpose {
                // No final response to our INVITE (timer B) or CANCEL: the trunk is gone.
                Purpose::Invite | Purpose::Cancel => self.end(EndCause::Timeout),
                // No ACK to our answer (timer H): the call cannot work; hang up.
                Purpose::FinalResponse if self.state == State::Confirmed => {
                    self.end(EndCause::Timeout);
                    self.send_bye(now);
                }
                _ => {}
            }
        }
    }

    /// Hangs up: CANCEL while ringing, BYE once answered, a 480 reject for an incoming call
    /// not answered yet.
    pub fn hang_up(&mut self, now: Instant) {
        self.hang_up_as(now, EndCause::LocalHangUp);
    }

    fn hang_up_as(&mut self, now: Instant, cause: EndCause) {
        match self.state {
            State::Calling => {
                // CANCEL may only follow a provisional response (RFC 3261 §9.1).
                self.cancel_pending = true;
                self.end(cause);
            }
            State::Early => {
                self.send_cancel(now);
                self.end(cause);
            }
            State::Offered => {
                self.end(cause);
                self.send_final(now, 480, "Temporarily Unavailable");
            }
            State::Confirmed => {
                self.send_bye(now);
                self.end(cause);
            }
            State::Ended => {}
        }
    }

    /// Rings the caller of an incoming call (180).
    pub fn ring(&mut self) {
        if self.state == State::Offered {
            let invite = self.invite.clone();
            let tag = self.local_tag.clone();
            self.respond(&invite, 180, "Ringing", Some(&tag));
        }
    }

    /// Answers an incoming call with our audio (200 OK, resent until the ACK).
    pub fn answer(&mut self, now: Instant, audio: &AudioDescription) {
        if self.state != State::Offered {
            return;
        }
        self.local_sdp = audio.write(1, 1);
        let mut ok = self.response(&self.invite.clone(), 200, "OK");
        ok.set_body("application/sdp", self.local_sdp.clone());
        self.state = State::Confirmed;
        self.send_response_until_ack(now, ok);
    }

    /// Refuses an incoming call not answered yet (e.g. 486 Busy Here, 603 Decline).
    pub fn reject(&mut self, now: Instant, code: u16, reason: &str) {
        if self.state != State::Offered {
            return;
        }
        self.end(EndCause::Rejected {
            code,
            reason: reason.to_owned(),
        });
        self.send_final(now, code, reason);
    }

    fn send_final(&mut self, now: Instant, code: u16, reason: &str) {
        let response = self.response(&self.invite.clone(), code, reason);
        self.send_response_until_ack(now, response);
    }

    /// A message from the trunk for this call.
    pub fn receive(&mut self, now: Instant, message: &Message) {
        match message.code() {
            Some(code) => self.receive_response(now, code, message),
            None => self.receive_request(now, message),
        }
    }

    fn receive_response(&mut self, now: Instant, code: u16, response: &Message) {
        let Some((cseq, method)) = response.cseq() else {
            return;
        };
        match method {
            Method::Invite if self.outgoing => self.invite_response(now, code, cseq, response),
            Method::Cancel | Method::Bye if code >= 200 => {
                let purpose = if method == Method::Bye {
                    Purpose::Bye
                } else {
                    Purpose::Cancel
                };
                self.transactions.finish(purpose);
            }
            _ => {}
        }
    }

    fn invite_response(&mut self, now: Instant, code: u16, cseq: u32, response: &Message) {
        let current = self.invite.cseq().map(|(n, _)| n) == Some(cseq);
        if (200..300).contains(&code) {
            // A 2xx to a previous INVITE (or retransmitted) still gets its ACK.
            self.transactions.finish(Purpose::Invite);
            if self.state == State::Confirmed || !current {
                self.send_ack_2xx(cseq);
                return;
            }
            self.remote_tag = response.to_tag().map(str::to_owned);
            if let Some(contact) = response.header("Contact") {
                self.remote_target = uri_of(contact).to_owned();
            }
            // A UAC reverses Record-Route (RFC 3261 §12.1.2).
            self.route_set = response
                .headers("Record-Route")
                .map(str::to_owned)
                .collect();
            self.route_set.reverse();
            self.send_ack_2xx(cseq);
            self.ring_deadline = None;
            if self.state == State::Ended {
                // We hung up while the answer was on its way: it must still be closed.
                self.state = State::Confirmed;
                self.send_bye(now);
                self.state = State::Ended;
                return;
            }
            self.state = State::Confirmed;
            match AudioDescription::parse(&response.body) {
                Ok(audio) => self.events.push_back(CallEvent::Answered(audio)),
                Err(_) => {
                    // Answered without audio we can use: nothing to bridge.
                    self.send_bye(now);
                    self.end(EndCause::Rejected {
                        code: 488,
                        reason: "Not Acceptable Here".into(),
                    });
                }
            }
            return;
        }
        if !current {
            return;
        }
        if code < 200 {
            self.stop_invite_retransmission();
            let first = self.state == State::Calling && !self.cancel_pending;
            if self.state == State::Calling {
                self.state = State::Early;
            }
            if self.cancel_pending {
                self.cancel_pending = false;
                self.send_cancel(now);
                self.state = State::Ended;
                return;
            }
            if self.state == State::Ended {
                return;
            }
            let early = AudioDescription::parse(&response.body).ok();
            match (code, early) {
                (100, _) if first => self.events.push_back(CallEvent::Trying),
                (100, _) => {}
                (_, Some(audio)) => self.events.push_back(CallEvent::EarlyMedia(audio)),
                (180, None) => self.events.push_back(CallEvent::Ringing),
                _ => {}
            }
            return;
        }
        // 3xx–6xx: ACK in the INVITE's transaction.
        let was_ended = self.state == State::Ended;
        self.send_ack_non_2xx(response);
        self.transactions.finish(Purpose::Invite);
        if matches!(code, 401 | 407)
            && !was_ended
            && self.retry_with_credentials(now, code, response)
        {
            return;
        }
        self.transactions.finish(Purpose::Cancel);
        let reason = match &response.start {
            StartLine::Response { reason, .. } => reason.clone(),
            StartLine::Request { .. } => String::new(),
        };
        self.end(EndCause::Rejected { code, reason });
    }

    /// Sends the INVITE again with an answer to the challenge; `false` if we have no
    /// credentials or they were already refused.
    fn retry_with_credentials(&mut self, now: Instant, code: u16, response: &Message) -> bool {
        let (challenge_header, answer_header) = match code {
            401 => ("WWW-Authenticate", "Authorization"),
            _ => ("Proxy-Authenticate", "Proxy-Authorization"),
        };
        let (Some(credentials), Some(challenge)) = (
            self.credentials.clone(),
            response
                .header(challenge_header)
                .and_then(|c| Challenge::parse(c).ok()),
        ) else {
            return false;
        };
        if self.answered_nonce.as_deref() == Some(challenge.nonce.as_str()) {
            return false;
        }
        let uri = self.invite_uri();
        let cnonce = format!("{}{}", self.local_tag, self.branches);
        let answer = challenge.answer(
            &credentials.username,
            &credentials.password,
            "INVITE",
            &uri,
            &cnonce,
        );
        self.answered_nonce = Some(challenge.nonce);
        self.local_cseq += 1;
        let cseq = format!("{} INVITE", self.local_cseq);
        self.invite
            .replace("CSeq", cseq)
            .replace(answer_header, answer);
        self.send_invite(now);
        true
    }

    fn receive_request(&mut self, now: Instant, request: &Message) {
        let Some(method) = request.method() else {
            return;
        };
        match method {
            Method::Ack => {
                // Our final response arrived.
                self.transactions.finish(Purpose::FinalResponse);
            }
            Method::Cancel => {
                self.respond(request, 200, "OK", None);
                if self.state == State::Offered {
                    self.end(EndCause::CallerCancelled);
                    self.send_final(now, 487, "Request Terminated");
                }
            }
            Method::Bye => {
                let tag = Some(self.local_tag.clone());
                self.respond(request, 200, "OK", tag.as_deref());
                if self.state != State::Ended {
                    self.end(EndCause::RemoteHangUp);
                }
                self.transactions.finish(Purpose::Bye);
                self.transactions.finish(Purpose::FinalResponse);
            }
            Method::Invite if self.state == State::Confirmed => {
                // A re-INVITE (a session refresh, or hold): our audio is unchanged.
                let mut ok = self.response(request, 200, "OK");
                ok.set_body("application/sdp", self.local_sdp.clone());
                self.send_response_until_ack(now, ok);
            }
            // A retransmitted INVITE of an incoming call: the provisional answers again.
            Method::Invite if self.state == State::Offered => {
                self.respond(request, 100, "Trying", None)
            }
            Method::Options | Method::Info => {
                let tag = Some(self.local_tag.clone());
                self.respond(request, 200, "OK", tag.as_deref())
            }
            _ => self.respond(request, 405, "Method Not Allowed", None),
        }
    }

    /// Over for the gateway: says why, once.
    fn end(&mut self, cause: EndCause) {
        if self.state != State::Ended {
            self.events.push_back(CallEvent::Ended(cause));
        }
        self.state = State::Ended;
        self.ring_deadline = None;
    }
}

/// The number a request is for (the Request-URI's user part), e.g. an incoming INVITE's.
pub fn called_number(request: &Message) -> Option<&str> {
    match &request.start {
        StartLine::Request { uri, .. } => uri_user(uri),
        StartLine::Response { .. } => None,
    }
}

/// The caller's number (From's user part).
pub fn caller_number(request: &Message) -> Option<&str> {
    uri_user(uri_of(request.header("From")?))
}
