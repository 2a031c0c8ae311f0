//! The one contract between a call and the call features that load only when an app asks for
//! them (`js/features/`): raised hands, reactions, spotlights, capabilities, media statistics,
//! data channels, transfer, optimal video count, real-time text, survey. A feature's code gets
//! the call's [`FeatureHost`] and nothing else: it sends its requests, hears its events (and the
//! last of each kind, for a feature that loads late), maps participant ids to identifiers, and
//! reads the media connection. The core never reads a feature's messages.
//!
//! `call.feature(Features.X)` makes such a feature through the factory's own `create(host)`
//! (the package entry's), once per call.

use super::call::CallInner;
use super::error::{ApiError, SubCode};
use super::events::{array, object, Emitter};
use super::identifier::{identifier_from_js, identifier_to_js};
use super::object::JsSelf;
use crate::api::promise::promise;
use crate::engine::agent::Request;
use rtcall_protocol::call::{ParticipantId, StreamId, StreamKind};
use rtcall_protocol::features::RawJson;
use rtcall_protocol::signal::{MediaLine, VideoSource};
use rtcall_protocol::CommunicationIdentifier;
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;

/// A call's side of the contract: the features made, the last event of each kind, the data
/// channels the connection opened, and who listens.
#[derive(Default)]
pub(crate) struct Features {
    /// Each lazily loaded feature made for the call, by name.
    made: RefCell<Vec<(String, JsValue)>>,
    /// The last event of each kind (its tag), parsed.
    latest: RefCell<Vec<(String, JsValue)>>,
    channels: RefCell<Vec<JsValue>>,
    emitter: Emitter,
    host: JsSelf,
}

impl Features {
    /// The feature `name`, made with `make` the first time.
    pub(crate) fn made(
        &self,
        name: &str,
        make: impl FnOnce() -> Result<JsValue, ApiError>,
    ) -> Result<JsValue, ApiError> {
        if let Some((_, made)) = self.made.borrow().iter().find(|(n, _)| n == name) {
            return Ok(made.clone());
        }
        let made = make()?;
        self.made.borrow_mut().push((name.to_owned(), made.clone()));
        Ok(made)
    }

    /// The call's host object, made once.
    pub(crate) fn host(&self, call: &Rc<CallInner>) -> JsValue {
        let call = Rc::downgrade(call);
        self.host.get(|| FeatureHost { call }.into())
    }

    /// A feature event from the service: kept as the last of its kind, and told.
    pub(crate) fn event(&self, raw: &RawJson) {
        let Ok(event) = js_sys::JSON::parse(&raw.0) else {
            return;
        };
        let tag = js_sys::Object::keys(&event.clone().into())
            .get(0)
            .as_string()
            .unwrap_or_default();
        self.tell(tag, event);
    }

    /// An event of the call's own for its features (`{transferAccepted: …}`,
    /// `{dataChannel: …}`, `{ended: {}}`).
    pub(crate) fn tell_own(&self, tag: &str, body: JsValue) {
        self.tell(tag.to_owned(), object(&[(tag, body)]));
    }

    fn tell(&self, tag: String, event: JsValue) {
        {
            let mut latest = self.latest.borrow_mut();
            latest.retain(|(t, _)| *t != tag);
            latest.push((tag, event.clone()));
        }
        self.emitter.emit("event", event);
    }

    /// A data channel the service opened on the call's connection.
    pub(crate) fn channel(&self, channel: JsValue) {
        self.channels.borrow_mut().push(channel.clone());
        self.tell_own("dataChannel", channel);
    }

    /// The call ended: features hear it, and the host lets go.
    pub(crate) fn close(&self) {
        self.tell_own("ended", JsValue::UNDEFINED);
        self.channels.borrow_mut().clear();
        self.host.release();
    }
}

/// The host a call gives its lazily loaded features (not an ACS class).
#[wasm_bindgen(js_name = RtcallFeatureHost, skip_typescript)]
pub struct FeatureHost {
    call: Weak<CallInner>,
}

impl FeatureHost {
    fn call(&self) -> Result<Rc<CallInner>, ApiError> {
        self.call
            .upgrade()
            .ok_or_else(|| ApiError::new(SubCode::WrongState, "the call has ended"))
    }
}

#[wasm_bindgen(js_class = RtcallFeatureHost)]
impl FeatureHost {
    /// Sends a feature request (its JSON text); resolves when the service took it.
    pub fn request(&self, json: String) -> js_sys::Promise {
        let call = self.call();
        promise(async move {
            let call = call?;
            call.ask(Request::Feature {
                call_id: call.id.clone(),
                request: RawJson(json),
            })
            .await
            .map(drop)
        })
    }

    /// Listens to the call's feature events (`{tag: body}` objects).
    pub fn on(&self, listener: js_sys::Function) {
        if let Ok(call) = self.call() {
            call.features.emitter.on("event", listener);
        }
    }

    /// Stops listening.
    pub fn off(&self, listener: js_sys::Function) {
        if let Ok(call) = self.call() {
            call.features.emitter.off("event", &listener);
        }
    }

    /// The last event of kind `tag`, if any.
    pub fn latest(&self, tag: &str) -> JsValue {
        let Ok(call) = self.call() else {
            return JsValue::UNDEFINED;
        };
        let latest = call.features.latest.borrow();
        latest
            .iter()
            .find(|(t, _)| t == tag)
            .map_or(JsValue::UNDEFINED, |(_, e)| e.clone())
    }

    /// Who participant `id` is: `{identifier, displayName, participant?, isLocal}`.
    pub fn participant(&self, id: u32) -> JsValue {
        let Ok(call) = self.call() else {
            return JsValue::UNDEFINED;
        };
        if call.own_participant() == Some(ParticipantId(id)) {
            return object(&[
                (
                    "identifier",
                    identifier_to_js(&CommunicationIdentifier::from_raw_id(&call.identity)),
                ),
                ("isLocal", true.into()),
            ]);
        }
        let participants = call.participants.borrow();
        let Some(p) = participants
            .iter()
            .find(|p| p.id() == Some(ParticipantId(id)))
        else {
            return JsValue::UNDEFINED;
        };
        object(&[
            (
                "identifier",
                identifier_to_js(&CommunicationIdentifier::from_raw_id(p.identity())),
            ),
            ("displayName", p.display_name().into()),
            ("participant", p.js()),
            ("isLocal", false.into()),
        ])
    }

    /// The participant ids of an identifier (every endpoint of that identity in the call).
    #[wasm_bindgen(js_name = participantIds)]
    pub fn participant_ids(&self, identifier: &JsValue) -> Result<Vec<u32>, ApiError> {
        let raw = identifier_from_js(identifier)?.raw_id();
        let call = self.call()?;
        let participants = call.participants.borrow();
        Ok(participants
            .iter()
            .filter(|p| p.identity() == raw)
            .filter_map(|p| p.id().map(|id| id.0))
            .collect())
    }

    /// The raw id of an identifier (any documented form).
    #[wasm_bindgen(js_name = rawId)]
    pub fn raw_id(&self, identifier: &JsValue) -> Result<String, ApiError> {
        Ok(identifier_from_js(identifier)?.raw_id())
    }

    /// This endpoint's participant id, once known.
    #[wasm_bindgen(getter)]
    pub fn me(&self) -> Option<u32> {
        self.call().ok()?.own_participant().map(|p| p.0)
    }

    /// The call's media connection, once there.
    #[wasm_bindgen(getter, js_name = peerConnection)]
    pub fn peer_connection(&self) -> JsValue {
        self.call()
            .ok()
            .and_then(|c| {
                c.media
                    .peer
                    .borrow()
                    .as_ref()
                    .map(|p| p.connection().clone().into())
            })
            .unwrap_or(JsValue::UNDEFINED)
    }

    /// What each line of the connection carries: `[{mid, kind: 'sendAudio' | 'sendVideo' |
    /// 'receiveAudio' | 'receiveVideo', source?: 'camera' | 'screen', participantId?,
    /// streamId?}]`; a received video's `source` is the kind of stream it is.
    #[wasm_bindgen(getter, js_name = mediaLines)]
    pub fn media_lines(&self) -> JsValue {
        let Ok(call) = self.call() else {
            return array([]);
        };
        let lines = call
            .media
            .peer
            .borrow()
            .as_ref()
            .map(|p| p.lines())
            .unwrap_or_default();
        let participants = call.participants.borrow();
        let source_of_stream = |id: StreamId| {
            participants
                .iter()
                .flat_map(|p| p.streams())
                .find(|s| s.stream_id() == id)
                .map(|s| match s.kind() {
                    StreamKind::ScreenSharing => VideoSource::Screen,
                    StreamKind::Video => VideoSource::Camera,
                })
        };
        array(lines.into_iter().map(|line| {
            let (kind, mid, source, participant, stream) = match line {
                MediaLine::SendAudio { mid } => ("sendAudio", mid, None, None, None),
                MediaLine::SendVideo { mid, source } => {
                    ("sendVideo", mid, Some(source), None, None)
                }
                MediaLine::ReceiveAudio {
                    mid,
                    participant_id,
                } => ("receiveAudio", mid, None, participant_id, None),
                MediaLine::ReceiveVideo {
                    mid,
                    participant_id,
                    stream_id,
                } => (
                    "receiveVideo",
                    mid,
                    source_of_stream(stream_id),
                    Some(participant_id),
                    Some(stream_id),
                ),
            };
            object(&[
                ("mid", mid.into()),
                ("kind", kind.into()),
                (
                    "source",
                    source.map_or(JsValue::UNDEFINED, |s| s.as_str().into()),
                ),
                (
                    "participantId",
                    participant.map_or(JsValue::UNDEFINED, |p| p.0.into()),
                ),
                (
                    "streamId",
                    stream.map_or(JsValue::UNDEFINED, |s| s.0.into()),
                ),
            ])
        }))
    }

    /// The data channels the service opened on the connection so far.
    #[wasm_bindgen(getter, js_name = dataChannels)]
    pub fn data_channels(&self) -> JsValue {
        let Ok(call) = self.call() else {
            return array([]);
        };
        let channels = call.features.channels.borrow();
        array(channels.iter().cloned())
    }
}
