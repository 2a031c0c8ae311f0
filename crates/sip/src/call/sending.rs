//! What a call's dialog sends: its INVITE and in-dialog requests (ACK, CANCEL, BYE) built
//! from the dialog's state (RFC 3261 §12.2.1.1, §13.2.2.4, §17.1.1.3, §9.1), its responses,
//! and the fresh branch each new transaction needs; each goes out once, or into a transaction
//! that sends it again until answered.

use super::SipCall;
use crate::message::{Message, Method, StartLine};
use crate::transaction::Purpose;
use std::time::Instant;

impl SipCall {
    /// Sends the current INVITE in a new transaction (a fresh branch), resent until answered.
    pub(super) fn send_invite(&mut self, now: Instant) {
        let via = self.via();
        self.invite.replace("Via", via);
        let bytes = self.invite.to_bytes();
        self.send_in_transaction(now, Purpose::Invite, bytes);
    }

    /// A provisional response to our INVITE: it is not sent again, but timer B still runs (a
    /// final response must come) for as long as the phone may ring.
    pub(super) fn stop_invite_retransmission(&mut self) {
        self.transactions
            .stop_resending(Purpose::Invite, self.ring_deadline);
    }

    /// The INVITE's Request-URI (CANCEL and non-2xx ACK reuse it).
    pub(super) fn invite_uri(&self) -> String {
        match &self.invite.start {
            StartLine::Request { uri, .. } => uri.clone(),
            StartLine::Response { .. } => self.remote_target.clone(),
        }
    }

    pub(super) fn via(&mut self) -> String {
        self.branches += 1;
        format!(
            "SIP/2.0/{} {};branch=z9hG4bK{}{}.{};rport",
            self.transactions.transport().via_name(),
            self.local,
            self.local_tag,
            self.call_id.len(),
            self.branches
        )
    }

    /// ACK for a 2xx: a request of its own in the dialog (RFC 3261 §13.2.2.4).
    pub(super) fn send_ack_2xx(&mut self, cseq: u32) {
        let mut ack = self.in_dialog_request(Method::Ack);
        ack.remove("CSeq").push("CSeq", format!("{cseq} ACK"));
        self.transmits.push_back(ack.to_bytes());
    }

    /// ACK for a 3xx–6xx: part of the INVITE transaction, same branch (RFC 3261 §17.1.1.3).
    pub(super) fn send_ack_non_2xx(&mut self, response: &Message) {
        let Some((cseq, _)) = self.invite.cseq() else {
            return;
        };
        let mut ack = Message::request(Method::Ack, self.invite_uri());
        for name in ["Via", "Max-Forwards", "From", "Call-ID"] {
            if let Some(value) = self.invite.header(name) {
                ack.push(name, value);
            }
        }
        ack.push("To", response.header("To").unwrap_or_default())
            .push("CSeq", format!("{cseq} ACK"));
        self.transmits.push_back(ack.to_bytes());
    }

    /// CANCEL: the INVITE's Request-URI, Call-ID, From, To, Via and CSeq number.
    pub(super) fn send_cancel(&mut self, now: Instant) {
        let Some((cseq, _)) = self.invite.cseq() else {
            return;
        };
        let mut cancel = Message::request(Method::Cancel, self.invite_uri());
        for name in ["Via", "Max-Forwards", "From", "To", "Call-ID"] {
            if let Some(value) = self.invite.header(name) {
                cancel.push(name, value);
            }
        }
        cancel.push("CSeq", format!("{cseq} CANCEL"));
        self.send_request(now, Purpose::Cancel, cancel);
        // Timer B goes on: the INVITE's 487 ends the transaction, or nothing does.
    }

    pub(super) fn send_bye(&mut self, now: Instant) {
        self.local_cseq += 1;
        let mut bye = self.in_dialog_request(Method::Bye);
        bye.push("Reason", "Q.850;cause=16;text=\"Normal call clearing\"");
        self.send_request(now, Purpose::Bye, bye);
    }

    /// A request within the dialog: to the remote target, through the route set, our next
    /// CSeq, a fresh branch.
    pub(super) fn in_dialog_request(&mut self, method: Method) -> Message {
        let via = self.via();
        let tagged = |uri: &str, tag: Option<&str>| match tag {
            Some(tag) => format!("<{uri}>;tag={tag}"),
            None => format!("<{uri}>"),
        };
        let mut request = Message::request(method.clone(), self.remote_target.clone());
        request
            .push("Via", via)
            .push("Max-Forwards", "70")
            .push("From", tagged(&self.local_uri, Some(&self.local_tag)))
            .push("To", tagged(&self.remote_uri, self.remote_tag.as_deref()))
            .push("Call-ID", self.call_id.clone())
            .push("CSeq", format!("{} {}", self.local_cseq, method.as_str()));
        for route in &self.route_set {
            request.push("Route", route.clone());
        }
        request
    }

    pub(super) fn send_request(&mut self, now: Instant, purpose: Purpose, request: Message) {
        self.send_in_transaction(now, purpose, request.to_bytes());
    }

    /// Sends `bytes` now and again until the transaction `purpose` finishes.
    pub(super) fn send_in_transaction(&mut self, now: Instant, purpose: Purpose, bytes: Vec<u8>) {
        self.transmits.push_back(bytes.clone());
        self.transactions.start(now, purpose, bytes);
    }

    /// A response to an incoming request, our tag on To where it has none.
    pub(super) fn response(&self, request: &Message, code: u16, reason: &str) -> Message {
        let mut response = Message::response_to(request, code, reason, Some(&self.local_tag));
        if (200..300).contains(&code) && request.method() == Some(Method::Invite) {
            response.push("Contact", self.transactions.transport().contact(self.local));
        }
        response
    }

    pub(super) fn respond(
        &mut self,
        request: &Message,
        code: u16,
        reason: &str,
        tag: Option<&str>,
    ) {
        let response = Message::response_to(request, code, reason, tag);
        self.transmits.push_back(response.to_bytes());
    }

    /// A final response to an INVITE, resent until its ACK (timers G and H).
    pub(super) fn send_response_until_ack(&mut self, now: Instant, response: Message) {
        self.send_in_transaction(now, Purpose::FinalResponse, response.to_bytes());
    }
}
