//! Blind transfer of a 1:1 call: the participant who asks hands the other over to a target (a
//! user or a phone number). The other's endpoint is told first and put in a new call that
//! calls the target; once the target answers, the call handed over ends for both with
//! 0/5310 and the one who asked hears `Transferred`. If the target does not answer, the new
//! call ends, the asker hears `Failed` with why, and the first call goes on.

use super::dispatch::parse_target;
use super::model::{phone_number, valid_id, Call, CallKind, TransferLink};
use super::{error, Hub, Outcome};
use crate::contract::EndpointId;
use rtcall_protocol::call::{CallId, EndReason};
use rtcall_protocol::features::{FeatureEvent, TransferState};
use rtcall_protocol::signal::{ErrorKind, Event};
use std::time::Instant;

impl Hub {
    /// `endpoint` hands its 1:1 call `call_id` over to `target` (raw id).
    pub(super) fn transfer(
        &mut self,
        now: Instant,
        endpoint: EndpointId,
        call_id: &CallId,
        target: String,
    ) -> Outcome {
        let leg = self.in_call(endpoint, call_id)?;
        let call = &self.calls[call_id];
        if call.kind != CallKind::Adhoc || call.participants.len() != 2 {
            return Err(error(
                ErrorKind::NotForThisCall,
                "a blind transfer hands over a 1:1 call",
            ));
        }
        let Some(other) = call.participants.values().find(|p| p.id != leg.participant) else {
            return Err(error(ErrorKind::WrongState, "nobody else is in the call"));
        };
        let Some(transferee) = other.endpoint() else {
            return Err(error(
                ErrorKind::NotForThisCall,
                "only a user in the call can be transferred (not a phone, not the echo service, not one still ringing)",
            ));
        };
        let (transferee_identity, muted) = (other.identity.clone(), other.muted);
        let target = parse_target(&target)?;
        if target == transferee_identity || target == self.endpoints[&endpoint].identity {
            return Err(error(
                ErrorKind::InvalidArgument,
                "a call cannot be transferred to someone already in it",
            ));
        }
        let caller_id = match phone_number(&target) {
            Some(_) => Some(self.config.phone_numbers.first().cloned().ok_or_else(|| {
                error(
                    ErrorKind::PhoneUnavailable,
                    "this deployment has no telephone trunk to call phone numbers",
                )
            })?),
            None => None,
        };
        let new_id = self.transfer_call_id(call_id);
        let mut call = Call::new(CallKind::Adhoc);
        call.transfer = Some(TransferLink {
            from: call_id.clone(),
            transferor: leg.participant,
        });
        self.calls.insert(new_id.clone(), call);
        // The transferee learns of its new call before anything about it.
        self.send(
            vec![transferee],
            Event::Transferred {
                call_id: call_id.clone(),
                target_call_id: new_id.clone(),
                target: target.clone(),
            },
        );
        self.tell_transfer(endpoint, call_id, TransferState::Transferring, None);
        self.join(transferee, &new_id, muted);
        self.sync(&new_id);
        match caller_id {
            Some(caller_id) => self.dial(&new_id, target, caller_id),
            None => {
                if let Some((pid, reason)) = self.invite(now, &new_id, target, Some(transferee)) {
                    self.leave(&new_id, pid, reason, reason);
                }
            }
        }
        self.sync(&new_id);
        Ok(())
    }

    /// A new call id, unused, for a transfer out of `from`.
    fn transfer_call_id(&mut self, from: &CallId) -> CallId {
        loop {
            self.transfers += 1;
            let prefix = format!("t{}-", self.transfers);
            let keep = from.0.len().min(64 - prefix.len());
            let id = CallId(format!("{prefix}{}", &from.0[..keep]));
            if valid_id(&id.0) && !self.calls.contains_key(&id) {
                return id;
            }
        }
    }

    /// The call a transfer made was answered: the call handed over ends for both, the one
    /// who asked having heard it worked.
    pub(super) fn transfer_done(&mut self, link: TransferLink) {
        let Some(call) = self.calls.get(&link.from) else {
            return;
        };
        let transferor = call
            .participants
            .get(&link.transferor)
            .and_then(|p| p.endpoint());
        let everyone: Vec<_> = call.participants.keys().copied().collect();
        if let Some(endpoint) = transferor {
            self.tell_transfer(endpoint, &link.from, TransferState::Transferred, None);
        }
        // Both leave at once: neither is left alone in a call that then ends as hung up.
        for pid in everyone {
            self.detach(&link.from, pid, EndReason::TRANSFERRED);
        }
        self.calls.remove(&link.from);
    }

    /// The call a transfer made ended unanswered (`reason`): the one who asked hears it
    /// failed, and its call goes on.
    pub(super) fn transfer_failed(&mut self, link: TransferLink, reason: EndReason) {
        let endpoint = self
            .calls
            .get(&link.from)
            .and_then(|c| c.participants.get(&link.transferor))
            .and_then(|p| p.endpoint());
        if let Some(endpoint) = endpoint {
            self.tell_transfer(endpoint, &link.from, TransferState::Failed, Some(reason));
        }
    }

    fn tell_transfer(
        &mut self,
        endpoint: EndpointId,
        call_id: &CallId,
        state: TransferState,
        error: Option<EndReason>,
    ) {
        self.send(
            vec![endpoint],
            Event::Feature {
                call_id: call_id.clone(),
                event: FeatureEvent::Transfer { state, error },
            },
        );
    }
}
