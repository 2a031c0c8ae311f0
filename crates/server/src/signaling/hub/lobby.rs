//! A group call's lobby: when its maker asked for one, everyone else who joins waits there
//! (`InLobby`, with no media) until someone who may manage the lobby admits them, and they come
//! in as attendees, or turns them away. Only those who manage the lobby see who waits in it.

use super::model::Phase;
use super::{error, Hub, Outcome};
use crate::contract::EndpointId;
use rtcall_protocol::call::{CallId, EndReason, ParticipantId};
use rtcall_protocol::features::{Capability, Role};
use rtcall_protocol::signal::{ErrorKind, Reply, WireError};

impl Hub {
    /// `endpoint` joins the call's lobby.
    pub(super) fn wait_in_lobby(&mut self, endpoint: EndpointId, call_id: &CallId, muted: bool) {
        let ep = &self.endpoints[&endpoint];
        let (identity, display_name) = (ep.identity.clone(), ep.display_name.clone());
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        let pid = call.add(identity, display_name, Phase::Lobby { endpoint });
        if let Some(p) = call.participants.get_mut(&pid) {
            p.muted = muted;
            p.role = Role::Attendee;
        }
        if let Some(ep) = self.endpoints.get_mut(&endpoint) {
            ep.legs.insert(call_id.clone(), pid);
        }
        self.sync(call_id);
    }

    /// Lets participants waiting in the lobby in: those of these raw ids, or all (`None`).
    pub(super) fn admit(
        &mut self,
        endpoint: EndpointId,
        call_id: &CallId,
        targets: Option<Vec<String>>,
    ) -> Result<Reply, WireError> {
        self.require(endpoint, call_id, Capability::ManageLobby)?;
        let waiting = self.waiting(call_id, targets.as_deref());
        let named = targets.as_ref().map_or(waiting.len(), Vec::len);
        if targets.is_some() && waiting.is_empty() {
            return Err(error(
                ErrorKind::ParticipantNotFound,
                "nobody of that id waits in the lobby",
            ));
        }
        for (pid, endpoint) in &waiting {
            if let Some(p) = self
                .calls
                .get_mut(call_id)
                .and_then(|c| c.participants.get_mut(pid))
            {
                p.phase = Phase::Joined {
                    endpoint: *endpoint,
                };
                p.dirty = true;
            }
            self.enter(*endpoint, call_id, *pid);
        }
        self.sync(call_id);
        Ok(Reply::Admitted {
            success_count: waiting.len() as u32,
            failure_count: named.saturating_sub(waiting.len()) as u32,
        })
    }

    /// Turns away whoever of this raw id waits in the lobby.
    pub(super) fn reject_lobby(
        &mut self,
        endpoint: EndpointId,
        call_id: &CallId,
        target: &str,
    ) -> Outcome {
        self.require(endpoint, call_id, Capability::ManageLobby)?;
        let waiting = self.waiting(call_id, Some(&[target.to_owned()]));
        if waiting.is_empty() {
            return Err(error(
                ErrorKind::ParticipantNotFound,
                "nobody of that id waits in the lobby",
            ));
        }
        for (pid, _) in waiting {
            self.leave(
                call_id,
                pid,
                EndReason::NOT_ADMITTED,
                EndReason::NOT_ADMITTED,
            );
        }
        Ok(())
    }

    /// Who waits in the call's lobby with their endpoints: those of these raw ids, or all.
    fn waiting(
        &self,
        call_id: &CallId,
        targets: Option<&[String]>,
    ) -> Vec<(ParticipantId, EndpointId)> {
        self.calls[call_id]
            .participants
            .values()
            .filter(|p| targets.is_none_or(|t| t.contains(&p.identity)))
            .filter_map(|p| match p.phase {
                Phase::Lobby { endpoint } => Some((p.id, endpoint)),
                _ => None,
            })
            .collect()
    }
}
