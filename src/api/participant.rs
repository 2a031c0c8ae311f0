//! `RemoteParticipant`: someone else in the call, with their state, role, mute, speaking and
//! video streams (camera and screen share, present even while off, as in ACS); `mute()` mutes
//! them, if this endpoint may.

use super::convert::{end_reason_js, participant_state_str};
use super::events::{array, emitter_methods, object, Emitter};
use super::identifier::identifier_to_js;
use super::object::JsSelf;
use super::streams::{RemoteVideoStream, Subscriber};
use crate::engine::call::{ParticipantChanges, RemoteModel};
use rtcall_protocol::call::{EndReason, ParticipantId, ParticipantState};
use rtcall_protocol::features::Role;
use rtcall_protocol::CommunicationIdentifier;
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;

/// What a participant asks of its call: to receive its streams, and to mute it.
pub(crate) trait ParticipantCall: Subscriber {
    /// Mutes the participant of `identity` (raw id); resolves when the service did.
    fn mute_participant(&self, identity: String) -> js_sys::Promise;
}

/// A participant's state.
pub struct ParticipantInner {
    /// The call.
    call: Weak<dyn ParticipantCall>,
    /// The server's id; `None` while added by `addParticipant` and not yet reported.
    id: Cell<Option<ParticipantId>>,
    identity: String,
    display_name: RefCell<String>,
    state: Cell<ParticipantState>,
    end_reason: Cell<Option<EndReason>>,
    muted: Cell<bool>,
    speaking: Cell<bool>,
    role: Cell<Role>,
    /// Announced in `remoteParticipants` (not while waiting in the lobby).
    listed: Cell<bool>,
    streams: RefCell<Vec<RemoteVideoStream>>,
    emitter: Emitter,
    js: JsSelf,
}

/// A remote participant (`RemoteParticipant`).
#[wasm_bindgen]
#[derive(Clone)]
pub struct RemoteParticipant {
    pub(crate) inner: Rc<ParticipantInner>,
}

impl RemoteParticipant {
    fn with(
        call: Weak<dyn ParticipantCall>,
        id: Option<ParticipantId>,
        identity: String,
        state: ParticipantState,
    ) -> Self {
        RemoteParticipant {
            inner: Rc::new(ParticipantInner {
                call,
                id: Cell::new(id),
                identity,
                display_name: RefCell::default(),
                state: Cell::new(state),
                end_reason: Cell::new(None),
                muted: Cell::new(false),
                speaking: Cell::new(false),
                role: Cell::new(Role::Unknown),
                listed: Cell::new(false),
                streams: RefCell::default(),
                emitter: Emitter::default(),
                js: JsSelf::default(),
            }),
        }
    }

    /// A participant the server reported.
    pub(crate) fn from_model(call: Weak<dyn ParticipantCall>, model: &RemoteModel) -> Self {
        let p = Self::with(call, Some(model.id), model.identity.clone(), model.state);
        p.fill(model);
        p
    }

    /// A participant being invited by `addParticipant`, before the server reports it.
    pub(crate) fn placeholder(call: Weak<dyn ParticipantCall>, identity: String) -> Self {
        Self::with(call, None, identity, ParticipantState::Idle)
    }

    /// Whether this is an unbound invitation of `identity`.
    pub(crate) fn is_placeholder_for(&self, identity: &str) -> bool {
        self.inner.id.get().is_none() && self.inner.identity == identity
    }

    /// Binds an invitation to the participant the server reported.
    pub(crate) fn bind(&self, model: &RemoteModel) {
        self.inner.id.set(Some(model.id));
        let changes = ParticipantChanges {
            state: true,
            muted: true,
            display_name: true,
            speaking: true,
            streams: true,
            reconnecting: true,
            role: true,
        };
        self.update(model, changes);
    }

    /// The call was joined again and the service knows the participant under a new id.
    pub(crate) fn rekey(&self, id: ParticipantId) {
        self.inner.id.set(Some(id));
    }

    fn fill(&self, model: &RemoteModel) {
        *self.inner.display_name.borrow_mut() = model.display_name.clone();
        self.inner.muted.set(model.muted);
        self.inner.speaking.set(model.speaking);
        self.inner.role.set(model.role);
        let streams: Vec<RemoteVideoStream> = model
            .streams
            .iter()
            .map(|s| RemoteVideoStream::new(self.subscriber(), s.stream_id, s.kind, s.available))
            .collect();
        *self.inner.streams.borrow_mut() = streams;
    }

    /// The object's one JS wrapper.
    pub fn js(&self) -> JsValue {
        self.inner.js.get(|| self.clone().into())
    }

    /// The server's id for this participant.
    pub fn id(&self) -> Option<ParticipantId> {
        self.inner.id.get()
    }

    /// The identity's raw id.
    pub fn identity(&self) -> &str {
        &self.inner.identity
    }

    /// Who receives its streams: the call.
    fn subscriber(&self) -> Weak<dyn Subscriber> {
        self.inner.call.clone()
    }

    /// Its state now.
    pub(crate) fn state_now(&self) -> ParticipantState {
        self.inner.state.get()
    }

    /// Whether it was announced in `remoteParticipants`; marks it so.
    pub(crate) fn list(&self) -> bool {
        self.inner.listed.replace(true)
    }

    /// Whether it was announced in `remoteParticipants`.
    pub(crate) fn is_listed(&self) -> bool {
        self.inner.listed.get()
    }

    /// The video streams.
    pub fn streams(&self) -> Vec<RemoteVideoStream> {
        self.inner.streams.borrow().clone()
    }

    /// Applies a new snapshot; fires the events of what changed.
    pub(crate) fn update(&self, model: &RemoteModel, changes: ParticipantChanges) {
        let inner = &self.inner;
        if changes.display_name && *inner.display_name.borrow() != model.display_name {
            *inner.display_name.borrow_mut() = model.display_name.clone();
            inner.emitter.changed("displayNameChanged");
        }
        if changes.muted && inner.muted.replace(model.muted) != model.muted {
            inner.emitter.changed("isMutedChanged");
        }
        if changes.speaking && inner.speaking.replace(model.speaking) != model.speaking {
            inner.emitter.changed("isSpeakingChanged");
        }
        if changes.role && inner.role.replace(model.role) != model.role {
            inner.emitter.changed("roleChanged");
        }
        if changes.streams {
            let known = inner.streams.borrow().clone();
            if known.is_empty() {
                // A bound invitation gets its streams now.
                let streams: Vec<RemoteVideoStream> = model
                    .streams
                    .iter()
                    .map(|s| {
                        RemoteVideoStream::new(self.subscriber(), s.stream_id, s.kind, s.available)
                    })
                    .collect();
                let added = streams.iter().map(RemoteVideoStream::js).collect();
                *inner.streams.borrow_mut() = streams;
                inner
                    .emitter
                    .updated("videoStreamsUpdated", added, Vec::new());
            } else {
                for info in &model.streams {
                    // A stream of before the call was joined again has a new id: the one of
                    // its kind whose id the service no longer lists.
                    let stream = known
                        .iter()
                        .find(|s| s.stream_id() == info.stream_id)
                        .or_else(|| {
                            known.iter().find(|s| {
                                s.kind() == info.kind
                                    && !model.streams.iter().any(|i| i.stream_id == s.stream_id())
                            })
                        });
                    if let Some(stream) = stream {
                        stream.rekey(info.stream_id);
                        stream.set_available(info.available);
                    }
                }
            }
        }
        if model.end_reason.is_some() {
            inner.end_reason.set(model.end_reason);
        }
        if changes.state && inner.state.replace(model.state) != model.state {
            inner.emitter.changed("stateChanged");
        }
    }

    /// An invitation that failed: Disconnected with `reason`.
    pub(crate) fn fail(&self, reason: EndReason) {
        self.inner.end_reason.set(Some(reason));
        if self.inner.state.replace(ParticipantState::Disconnected)
            != ParticipantState::Disconnected
        {
            self.inner.emitter.changed("stateChanged");
        }
        self.release();
    }

    /// The participant left: its streams stop, its objects are let go.
    pub(crate) fn release(&self) {
        for stream in self.inner.streams.borrow().iter() {
            stream.release();
        }
        self.inner.js.release();
    }
}

#[wasm_bindgen]
impl RemoteParticipant {
    /// Who (`CommunicationIdentifierKind`).
    #[wasm_bindgen(getter, unchecked_return_type = "CommunicationIdentifierKind")]
    pub fn identifier(&self) -> JsValue {
        identifier_to_js(&CommunicationIdentifier::from_raw_id(&self.inner.identity))
    }

    /// Display name.
    #[wasm_bindgen(getter, js_name = displayName)]
    pub fn display_name(&self) -> String {
        self.inner.display_name.borrow().clone()
    }

    /// `RemoteParticipantState`.
    #[wasm_bindgen(getter, unchecked_return_type = "RemoteParticipantState")]
    pub fn state(&self) -> String {
        participant_state_str(self.inner.state.get()).into()
    }

    /// Why the participant left (`{code, subCode}`), once it has.
    #[wasm_bindgen(getter, js_name = callEndReason, unchecked_return_type = "CallEndReason | undefined")]
    pub fn call_end_reason(&self) -> JsValue {
        end_reason_js(self.inner.end_reason.get())
    }

    /// Microphone muted.
    #[wasm_bindgen(getter, js_name = isMuted)]
    pub fn is_muted(&self) -> bool {
        self.inner.muted.get()
    }

    /// Speaking now.
    #[wasm_bindgen(getter, js_name = isSpeaking)]
    pub fn is_speaking(&self) -> bool {
        self.inner.speaking.get()
    }

    /// Its role (`ParticipantRole`).
    #[wasm_bindgen(getter, unchecked_return_type = "ParticipantRole")]
    pub fn role(&self) -> String {
        self.inner.role.get().as_str().into()
    }

    /// Mutes its microphone (soft mute): it hears `mutedByOthers` and may unmute itself.
    /// Refused in 1:1 calls and to those whose role does not allow it.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn mute(&self) -> js_sys::Promise {
        match self.inner.call.upgrade() {
            Some(call) => call.mute_participant(self.inner.identity.clone()),
            None => js_sys::Promise::reject(
                &super::error::ApiError::new(
                    super::error::SubCode::WrongState,
                    "the call has ended",
                )
                .into(),
            ),
        }
    }

    /// The camera and screen-share streams.
    #[wasm_bindgen(getter, js_name = videoStreams, unchecked_return_type = "RemoteVideoStream[]")]
    pub fn video_streams(&self) -> JsValue {
        array(
            self.inner
                .streams
                .borrow()
                .iter()
                .map(RemoteVideoStream::js),
        )
    }

    /// `[{participantId}]`: the endpoint in the call.
    #[wasm_bindgen(getter, js_name = endpointDetails, unchecked_return_type = "EndpointDetails[]")]
    pub fn endpoint_details(&self) -> JsValue {
        array(
            self.inner
                .id
                .get()
                .map(|id| object(&[("participantId", id.0.to_string().into())])),
        )
    }
}

emitter_methods!(RemoteParticipant, "RemoteParticipant");
