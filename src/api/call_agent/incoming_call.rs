//! `IncomingCall`: a call ringing here, to accept (becoming a `Call`) or reject.

use super::AgentInner;
use crate::api::convert::{caller_info_js, end_reason_js};
use crate::api::error::{ApiError, SubCode};
use crate::api::events::{emitter_methods, object, Emitter};
use crate::api::object::JsSelf;
use crate::api::promise::promise;
use crate::engine::agent::IncomingModel;
use rtcall_protocol::call::EndReason;
use rtcall_protocol::signal::Request;
use std::cell::Cell;
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;

pub(crate) struct IncomingInner {
    model: IncomingModel,
    agent: Weak<AgentInner>,
    end_reason: Cell<Option<EndReason>>,
    emitter: Emitter,
    js: JsSelf,
}

/// An incoming call (`IncomingCall`).
#[wasm_bindgen]
#[derive(Clone)]
pub struct IncomingCall {
    inner: Rc<IncomingInner>,
}

impl IncomingCall {
    pub(crate) fn new(model: IncomingModel, agent: &Rc<AgentInner>) -> Self {
        IncomingCall {
            inner: Rc::new(IncomingInner {
                model,
                agent: Rc::downgrade(agent),
                end_reason: Cell::new(None),
                emitter: Emitter::default(),
                js: JsSelf::default(),
            }),
        }
    }

    /// The object's one JS wrapper.
    pub fn js(&self) -> JsValue {
        self.inner.js.get(|| self.clone().into())
    }

    /// The call ringing.
    pub(crate) fn call_id(&self) -> &rtcall_protocol::call::CallId {
        &self.inner.model.call_id
    }

    /// It stopped ringing: fires `callEnded`.
    pub(crate) fn ended(&self, reason: EndReason) {
        self.inner.end_reason.set(Some(reason));
        self.inner.emitter.emit(
            "callEnded",
            object(&[("callEndReason", end_reason_js(Some(reason)))]),
        );
        self.inner.js.release();
    }

    fn agent(&self) -> Result<Rc<AgentInner>, ApiError> {
        self.inner
            .agent
            .upgrade()
            .ok_or_else(|| ApiError::new(SubCode::Disposed, "the call agent has been disposed"))
    }
}

#[wasm_bindgen]
impl IncomingCall {
    /// The call's id.
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> String {
        self.inner.model.call_id.0.clone()
    }

    /// `'IncomingCall'`.
    #[wasm_bindgen(getter)]
    pub fn kind(&self) -> String {
        "IncomingCall".into()
    }

    /// The caller (`{identifier, displayName}`).
    #[wasm_bindgen(getter, js_name = callerInfo, unchecked_return_type = "CallerInfo")]
    pub fn caller_info(&self) -> JsValue {
        caller_info_js(
            &self.inner.model.caller,
            &self.inner.model.caller_display_name,
        )
    }

    /// Why it stopped ringing, once it has.
    #[wasm_bindgen(getter, js_name = callEndReason, unchecked_return_type = "CallEndReason | undefined")]
    pub fn call_end_reason(&self) -> JsValue {
        end_reason_js(self.inner.end_reason.get())
    }

    /// Answers: `{videoOptions?, audioOptions?}` → the `Call`.
    #[wasm_bindgen(unchecked_return_type = "Promise<Call>")]
    pub fn accept(
        &self,
        #[wasm_bindgen(unchecked_param_type = "AcceptCallOptions")] options: JsValue,
    ) -> js_sys::Promise {
        let this = self.clone();
        promise(async move {
            if this.inner.end_reason.get().is_some() {
                return Err(ApiError::new(
                    SubCode::WrongState,
                    "the call is no longer ringing",
                ));
            }
            let agent = this.agent()?;
            let call = AgentInner::accept(&agent, &this.inner.model, &options)?;
            Ok(call.js())
        })
    }

    /// Declines.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn reject(&self) -> js_sys::Promise {
        let this = self.clone();
        promise(async move {
            let agent = this.agent()?;
            let request = Request::Reject {
                call_id: this.inner.model.call_id.clone(),
            };
            let reply = agent.driver.send(request).await;
            reply
                .ok_or_else(|| ApiError::new(SubCode::Disposed, "the call agent was disposed"))?
                .map_err(ApiError::from)?;
            Ok(JsValue::UNDEFINED)
        })
    }
}

emitter_methods!(IncomingCall, "IncomingCall");
