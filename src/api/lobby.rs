//! `call.lobby`: who waits in a group call's lobby — `RemoteParticipant`s `InLobby`, seen only
//! by those who may let them in — and letting them in (`admit`, `admitAll`) or turning them
//! away (`reject`). The service checks who may; a group call has a lobby when its maker joined
//! with `{groupId, lobby: true}` (rtcall's option).

use super::call::CallInner;
use super::error::{ApiError, SubCode};
use super::events::{array, emitter_methods, object, Emitter};
use super::identifier::identifier_from_js;
use super::object::JsSelf;
use super::participant::RemoteParticipant;
use crate::api::promise::promise;
use crate::engine::agent::Request;
use rtcall_protocol::call::ParticipantState;
use rtcall_protocol::signal::Reply;
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;

pub(crate) struct LobbyInner {
    call: Weak<CallInner>,
    pub(crate) emitter: Emitter,
    js: JsSelf,
}

/// A call's lobby (`Lobby`).
#[wasm_bindgen]
#[derive(Clone)]
pub struct Lobby {
    pub(crate) inner: Rc<LobbyInner>,
}

impl Lobby {
    /// The lobby of `call`.
    pub(crate) fn new(call: Weak<CallInner>) -> Self {
        Lobby {
            inner: Rc::new(LobbyInner {
                call,
                emitter: Emitter::default(),
                js: JsSelf::default(),
            }),
        }
    }

    /// The object's one JS wrapper (it lives as long as the call).
    pub fn js(&self) -> JsValue {
        self.inner.js.get(|| self.clone().into())
    }

    /// Participants came to wait, or stopped waiting.
    pub(crate) fn updated(&self, added: Vec<JsValue>, removed: Vec<JsValue>) {
        self.inner
            .emitter
            .updated("lobbyParticipantsUpdated", added, removed);
    }

    /// Sends a request about the lobby; resolves with the service's reply.
    fn ask(
        &self,
        request: impl FnOnce(&Rc<CallInner>) -> Result<Request, ApiError> + 'static,
        reply: impl FnOnce(Reply) -> JsValue + 'static,
    ) -> js_sys::Promise {
        let call = self.inner.call.clone();
        promise(async move {
            let call = call
                .upgrade()
                .ok_or_else(|| ApiError::new(SubCode::WrongState, "the call has ended"))?;
            let request = request(&call)?;
            Ok(reply(call.ask(request).await?))
        })
    }
}

/// The raw id of the identifier an app passes, as a list of one.
fn targets(identifier: &JsValue) -> Result<Option<Vec<String>>, ApiError> {
    Ok(Some(vec![identifier_from_js(identifier)?.raw_id()]))
}

#[wasm_bindgen]
impl Lobby {
    /// Who waits to be let in.
    #[wasm_bindgen(getter, unchecked_return_type = "RemoteParticipant[]")]
    pub fn participants(&self) -> JsValue {
        let Some(call) = self.inner.call.upgrade() else {
            return array([]);
        };
        let participants = call.participants.borrow();
        array(
            participants
                .iter()
                .filter(|p| p.state_now() == ParticipantState::InLobby)
                .map(RemoteParticipant::js),
        )
    }

    /// Lets a participant in.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn admit(
        &self,
        #[wasm_bindgen(unchecked_param_type = "CommunicationIdentifier")] identifier: JsValue,
    ) -> js_sys::Promise {
        self.ask(
            move |call| {
                Ok(Request::AdmitLobby {
                    call_id: call.id.clone(),
                    targets: targets(&identifier)?,
                })
            },
            |_| JsValue::UNDEFINED,
        )
    }

    /// Turns a participant away.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn reject(
        &self,
        #[wasm_bindgen(unchecked_param_type = "CommunicationIdentifier")] identifier: JsValue,
    ) -> js_sys::Promise {
        self.ask(
            move |call| {
                Ok(Request::RejectLobby {
                    call_id: call.id.clone(),
                    target: identifier_from_js(&identifier)?.raw_id(),
                })
            },
            |_| JsValue::UNDEFINED,
        )
    }

    /// Lets everyone waiting in: `{successCount, failureCount}`.
    #[wasm_bindgen(js_name = admitAll, unchecked_return_type = "Promise<AdmitAllOperationResult>")]
    pub fn admit_all(&self) -> js_sys::Promise {
        self.ask(
            |call| {
                Ok(Request::AdmitLobby {
                    call_id: call.id.clone(),
                    targets: None,
                })
            },
            |reply| match reply {
                Reply::Admitted {
                    success_count,
                    failure_count,
                } => object(&[
                    ("successCount", success_count.into()),
                    ("failureCount", failure_count.into()),
                ]),
                _ => object(&[("successCount", 0.into()), ("failureCount", 0.into())]),
            },
        )
    }
}

emitter_methods!(Lobby, "Lobby");
