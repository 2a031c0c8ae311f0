//! `CallAgent`: one identity signed in to the service. Its [`Driver`] runs the engine and the
//! connection; the agent turns the engine's events into the JavaScript objects' state and
//! events — its calls, and the calls ringing here ([`IncomingCall`], in `incoming_call`).

mod incoming_call;

pub use incoming_call::IncomingCall;

use super::audio_stream::LocalAudioStream;
use super::call::Call;
use super::device_manager::DeviceState;
use super::error::{ApiError, SubCode};
use super::events::{array, emitter_methods, object, Emitter};
use super::object::JsSelf;
use super::streams::LocalVideoStream;
use crate::engine::agent::Request;
use crate::engine::agent::{AgentEvent, IncomingModel};
use crate::engine::call::CallChange;
use crate::media::peer::{Offer, PeerSession, SendSource};
use crate::signal::{Driver, DriverEvents};
use futures_channel::oneshot;
use rtcall_protocol::call::{CallId, CallState, EndReason};
use rtcall_protocol::signal::{IceServer, RequestId, VideoSource};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

/// What an agent takes from the `CallClient` that made it.
pub(crate) struct AgentSetup {
    /// The app's TURN/STUN servers.
    pub(crate) ice_servers: Vec<IceServer>,
    /// The devices its calls use.
    pub(crate) devices: Rc<DeviceState>,
    /// Runs when the agent goes (its identity may have a new one).
    pub(crate) on_dispose: Box<dyn Fn()>,
}

/// The agent's state.
pub struct AgentInner {
    driver: Rc<Driver>,
    setup: AgentSetup,
    identity: String,
    calls: RefCell<Vec<Call>>,
    incoming: RefCell<Vec<IncomingCall>>,
    /// Requests that start a call; if one fails, its call ends with the error.
    starts: RefCell<HashMap<RequestId, CallId>>,
    ready: RefCell<Option<oneshot::Sender<Result<(), ApiError>>>>,
    server_ice: RefCell<Vec<IceServer>>,
    emitter: Emitter,
    js: JsSelf,
    disposed: Cell<bool>,
}

/// A signed-in identity (`CallAgent`).
#[wasm_bindgen]
#[derive(Clone)]
pub struct CallAgent {
    inner: Rc<AgentInner>,
}

fn option(options: &JsValue, path: &[&str]) -> JsValue {
    let mut value = options.clone();
    for name in path {
        if !value.is_object() {
            return JsValue::UNDEFINED;
        }
        value = js_sys::Reflect::get(&value, &(*name).into()).unwrap_or(JsValue::UNDEFINED);
    }
    value
}

/// The first element of an options array (`localVideoStreams`, `localAudioStreams`), if any.
fn first_of(list: JsValue) -> Option<JsValue> {
    js_sys::Array::is_array(&list)
        .then(|| js_sys::Array::from(&list).get(0))
        .filter(|first| !first.is_undefined())
}

impl AgentInner {
    /// Signs in `identity` with `credential`; resolves once the service welcomes it.
    pub(crate) async fn create(
        setup: AgentSetup,
        credential: JsValue,
        identity: String,
        display_name: String,
        service_url: String,
    ) -> Result<CallAgent, ApiError> {
        let (ready, welcomed) = oneshot::channel();
        let inner = Rc::new_cyclic(|weak: &std::rc::Weak<AgentInner>| AgentInner {
            driver: Driver::new(
                credential,
                service_url,
                display_name,
                weak.clone() as std::rc::Weak<dyn DriverEvents>,
            ),
            setup,
            identity,
            calls: RefCell::default(),
            incoming: RefCell::default(),
            starts: RefCell::default(),
            ready: RefCell::new(Some(ready)),
            server_ice: RefCell::default(),
            emitter: Emitter::default(),
            js: JsSelf::default(),
            disposed: Cell::new(false),
        });
        inner.driver.start();
        match welcomed.await {
            Ok(Ok(())) => Ok(CallAgent { inner }),
            Ok(Err(e)) => {
                inner.shut_down();
                Err(e)
            }
            Err(_) => Err(ApiError::new(
                SubCode::Disposed,
                "the call agent was disposed",
            )),
        }
    }

    fn handle_event(this: &Rc<Self>, driver: &Rc<Driver>, event: AgentEvent) {
        match event {
            AgentEvent::SignedIn { ice_servers, .. } => {
                *this.server_ice.borrow_mut() = ice_servers;
                if let Some(ready) = this.ready.borrow_mut().take() {
                    let _ = ready.send(Ok(()));
                }
            }
            AgentEvent::Refused(err) => {
                if let Some(ready) = this.ready.borrow_mut().take() {
                    let _ = ready.send(Err(err.into()));
                }
            }
            AgentEvent::ConnectionChanged { new, old, reason } => {
                this.emitter.emit(
                    "connectionStateChanged",
                    object(&[
                        ("newValue", new.as_str().into()),
                        ("oldValue", old.as_str().into()),
                        (
                            "reason",
                            reason.map_or(JsValue::UNDEFINED, |r| r.as_str().into()),
                        ),
                    ]),
                );
            }
            AgentEvent::Transferred {
                call_id,
                target_call_id,
                target,
            } => Self::transferred(this, &call_id, target_call_id, target),
            AgentEvent::Rejoined { call_id } => {
                if let Some(call) = this.call(&call_id) {
                    Self::reconnect_media(this, &call, driver);
                }
            }
            AgentEvent::IncomingCall(model) => {
                let incoming = IncomingCall::new(model, this);
                this.incoming.borrow_mut().push(incoming.clone());
                this.emitter
                    .emit("incomingCall", object(&[("incomingCall", incoming.js())]));
            }
            AgentEvent::IncomingCallEnded { call_id, reason } => {
                let ended = {
                    let mut list = this.incoming.borrow_mut();
                    list.iter()
                        .position(|c| c.call_id() == &call_id)
                        .map(|i| list.remove(i))
                };
                if let Some(incoming) = ended {
                    incoming.ended(reason);
                }
            }
            AgentEvent::Call { call_id, change } => {
                if let Some(call) = this.call(&call_id) {
                    let ended = matches!(change, CallChange::State(CallState::Disconnected, _));
                    call.apply(change);
                    if ended {
                        this.remove_call(&call);
                        call.release();
                    }
                }
            }
            AgentEvent::SdpOffer {
                call_id,
                version,
                sdp,
                media,
            } => {
                if let Some(call) = this.call(&call_id) {
                    if let Some(peer) = call.inner.media.peer.borrow().as_ref() {
                        peer.handle_offer(Offer {
                            version,
                            sdp,
                            media,
                        });
                    }
                }
            }
            AgentEvent::Replied { request, result } => {
                // Waiters get their replies from the driver; a start that failed ends its call.
                // (Taken out first: ending it runs the driver, which may bring more replies.)
                let started = this.starts.borrow_mut().remove(&request);
                if let Some(call_id) = started {
                    if let Err(e) = &result {
                        let reason = EndReason {
                            code: e.code,
                            sub_code: e.sub_code,
                        };
                        driver.update(|engine| engine.end_call(&call_id, reason));
                    }
                }
            }
        }
    }

    fn call(&self, id: &CallId) -> Option<Call> {
        self.calls
            .borrow()
            .iter()
            .find(|c| c.call_id() == id)
            .cloned()
    }

    /// Makes a `Call` object with its media connection, and starts its microphone and any
    /// video the options ask for.
    fn new_call(
        this: &Rc<Self>,
        call_id: CallId,
        incoming: bool,
        caller: (String, String),
        options: &JsValue,
    ) -> Result<Call, ApiError> {
        super::environment::require_calls()?;
        let muted = option(options, &["audioOptions", "muted"]).is_truthy();
        let audio = first_of(option(options, &["audioOptions", "localAudioStreams"]))
            .map(|js| {
                let stream = LocalAudioStream::from_js(&js).ok_or_else(|| {
                    ApiError::invalid_argument(
                        "audioOptions.localAudioStreams takes LocalAudioStream objects",
                    )
                })?;
                stream.check_free()?;
                Ok::<_, ApiError>((stream, js))
            })
            .transpose()?;
        let call = Call::new(
            call_id.clone(),
            (&this.driver, this.identity.clone()),
            incoming,
            caller,
            muted,
            &this.setup.devices,
        );
        let peer = Self::open_peer(this, &call)?;
        *call.inner.media.peer.borrow_mut() = Some(peer);
        call.watch_network();
        this.calls.borrow_mut().push(call.clone());
        this.emitter
            .updated("callsUpdated", vec![call.js()], Vec::new());
        if let Some((stream, js)) = audio {
            call.adopt_audio(stream, &js);
        }
        call.start_audio_source();
        if let Some(speaker) = this.setup.devices.speaker_id() {
            if let Some(peer) = call.inner.media.peer.borrow().as_ref() {
                peer.set_sink(&speaker);
            }
        }
        if let Some(first) = first_of(option(options, &["videoOptions", "localVideoStreams"])) {
            if let Some(local) = LocalVideoStream::from_js(&first) {
                let call = call.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    if let Err(e) = call.start_video(local, first).await {
                        web_sys::console::warn_1(
                            &format!("rtcall: cannot start the video: {e}").into(),
                        );
                    }
                });
            }
        }
        Ok(call)
    }

    /// The call's media connection to the SFU: answers go to the service, remote videos to the
    /// participants' streams, data channels to the call's features.
    fn open_peer(this: &Rc<Self>, call: &Call) -> Result<PeerSession, ApiError> {
        let mut ice = this.setup.ice_servers.clone();
        ice.extend(this.server_ice.borrow().iter().cloned());
        let answers = Rc::downgrade(&this.driver);
        let answered_call = call.call_id().clone();
        let videos = Rc::downgrade(&call.inner);
        let channels = Rc::downgrade(&call.inner);
        Ok(PeerSession::new(
            &ice,
            Box::new(move |version, answer| {
                let Some(driver) = answers.upgrade() else {
                    return;
                };
                match answer {
                    Ok(sdp) => {
                        driver.request(Request::SdpAnswer {
                            call_id: answered_call.clone(),
                            version,
                            sdp,
                        });
                    }
                    Err(e) => web_sys::console::error_2(
                        &"rtcall: cannot answer the service's offer".into(),
                        &e,
                    ),
                }
            }),
            Box::new(move |tracks| {
                let Some(call) = videos.upgrade() else { return };
                let call = Call { inner: call };
                for participant in call.participants() {
                    for stream in participant.streams() {
                        let track = tracks
                            .iter()
                            .find(|(id, _)| *id == stream.stream_id())
                            .map(|(_, t)| Clone::clone(t));
                        stream.set_track(track);
                    }
                }
            }),
            Box::new(move |channel| {
                if let Some(call) = channels.upgrade() {
                    call.features.channel(channel);
                }
            }),
        )?)
    }

    /// The call was joined again on a new session (the service restarted): a new media
    /// connection carries what the old one sent, and its videos are announced again.
    fn reconnect_media(this: &Rc<Self>, call: &Call, driver: &Rc<Driver>) {
        let old = call.inner.media.peer.borrow_mut().take();
        let sources = [
            SendSource::Microphone,
            SendSource::Camera,
            SendSource::Screen,
        ];
        let tracks: Vec<_> = sources
            .iter()
            .map(|s| old.as_ref().and_then(|p| p.track(*s)))
            .collect();
        if let Some(old) = old {
            old.close();
        }
        let peer = match Self::open_peer(this, call) {
            Ok(peer) => peer,
            Err(e) => {
                web_sys::console::error_1(
                    &format!("rtcall: cannot reconnect the call: {e}").into(),
                );
                driver.update(|engine| engine.end_call(call.call_id(), EndReason::NETWORK_LOST));
                return;
            }
        };
        for (source, track) in sources.into_iter().zip(tracks) {
            if let Some(track) = track {
                let video = match source {
                    SendSource::Camera => Some(VideoSource::Camera),
                    SendSource::Screen => Some(VideoSource::Screen),
                    SendSource::Microphone => None,
                };
                peer.set_track(source, Some(track));
                if let Some(source) = video {
                    driver.request(Request::SetVideo {
                        call_id: call.call_id().clone(),
                        source,
                        on: true,
                    });
                }
            }
        }
        if let Some(speaker) = this.setup.devices.speaker_id() {
            peer.set_sink(&speaker);
        }
        *call.inner.media.peer.borrow_mut() = Some(peer);
        call.media_reconnected();
    }

    /// The other side handed the call `from` over: this endpoint is in the call `to`, calling
    /// `target`, with its microphone as it was (`callsUpdated` adds it; the handed-over call's
    /// Transfer feature hears `transferAccepted`).
    fn transferred(this: &Rc<Self>, from: &CallId, to: CallId, target: String) {
        let Some(old) = this.call(from) else {
            return;
        };
        let options = object(&[("audioOptions", object(&[("muted", old.is_muted().into())]))]);
        let me = (
            this.identity.clone(),
            this.driver.read(|engine| engine.display_name().to_owned()),
        );
        match Self::new_call(this, to, false, me, &options) {
            Ok(call) => old.inner.features.tell_own(
                "transferAccepted",
                object(&[("targetCall", call.js()), ("target", target.into())]),
            ),
            Err(e) => web_sys::console::warn_1(
                &format!("rtcall: cannot take the transferred call: {e}").into(),
            ),
        }
    }

    /// Accepts a ringing call.
    pub(crate) fn accept(
        this: &Rc<Self>,
        model: &IncomingModel,
        options: &JsValue,
    ) -> Result<Call, ApiError> {
        let muted = option(options, &["audioOptions", "muted"]).is_truthy();
        // Bad options leave the call ringing, to accept again.
        let call = Self::new_call(
            this,
            model.call_id.clone(),
            true,
            (model.caller.clone(), model.caller_display_name.clone()),
            options,
        )?;
        this.incoming
            .borrow_mut()
            .retain(|c| c.call_id() != &model.call_id);
        let request = this
            .driver
            .update(|engine| engine.accept(model.call_id.clone(), muted));
        this.starts
            .borrow_mut()
            .insert(request, model.call_id.clone());
        Ok(call)
    }

    /// A call ended: it leaves `calls`.
    fn remove_call(&self, call: &Call) {
        let removed = {
            let mut calls = self.calls.borrow_mut();
            let before = calls.len();
            calls.retain(|c| !Rc::ptr_eq(&c.inner, &call.inner));
            before != calls.len()
        };
        if removed {
            self.emitter
                .updated("callsUpdated", Vec::new(), vec![call.js()]);
        }
    }

    fn shut_down(&self) {
        if self.disposed.replace(true) {
            return;
        }
        self.driver.update(|engine| engine.dispose());
        (self.setup.on_dispose)();
    }
}

impl DriverEvents for AgentInner {
    fn handle(self: Rc<Self>, driver: &Rc<Driver>, event: AgentEvent) {
        Self::handle_event(&self, driver, event);
    }
}

impl CallAgent {
    /// The object's one JS wrapper.
    pub fn js(&self) -> JsValue {
        self.inner.js.get(|| self.clone().into())
    }

    /// The identity's raw id.
    pub fn identity(&self) -> String {
        self.inner.identity.clone()
    }

    /// Calls users by raw id (`8:acs:…`): `startCall` for Rust callers.
    pub fn call_users(&self, raw_ids: &[&str]) -> Result<Call, ApiError> {
        self.start(
            raw_ids.iter().map(|id| (*id).to_owned()).collect(),
            &JsValue::UNDEFINED,
        )
    }

    /// Joins a group call by id: `join({groupId})` for Rust callers.
    pub fn join_group(&self, group_id: &str) -> Result<Call, ApiError> {
        self.enter_group(group_id.to_owned(), false, &JsValue::UNDEFINED)
    }

    fn check_usable(&self) -> Result<(), ApiError> {
        if self.inner.disposed.get() {
            return Err(ApiError::new(
                SubCode::Disposed,
                "the call agent has been disposed",
            ));
        }
        Ok(())
    }

    fn start(&self, targets: Vec<String>, options: &JsValue) -> Result<Call, ApiError> {
        self.check_usable()?;
        if targets.is_empty() {
            return Err(ApiError::invalid_argument(
                "startCall needs at least one participant",
            ));
        }
        let call_id = CallId(new_uuid());
        let me = (
            self.inner.identity.clone(),
            self.display_name().unwrap_or_default(),
        );
        let caller_id = super::call::alternate_caller_id(options)?;
        let call = AgentInner::new_call(&self.inner, call_id.clone(), false, me, options)?;
        let muted = call.is_muted();
        let id = self
            .inner
            .driver
            .update(|engine| engine.start_call(call_id.clone(), targets, muted, caller_id));
        self.inner.starts.borrow_mut().insert(id, call_id);
        Ok(call)
    }

    fn enter_group(
        &self,
        group_id: String,
        lobby: bool,
        options: &JsValue,
    ) -> Result<Call, ApiError> {
        self.check_usable()?;
        let call_id = CallId(group_id.clone());
        if self.inner.call(&call_id).is_some() {
            return Err(ApiError::new(
                SubCode::WrongState,
                "already in this group call",
            ));
        }
        let me = (
            self.inner.identity.clone(),
            self.display_name().unwrap_or_default(),
        );
        let call = AgentInner::new_call(&self.inner, call_id.clone(), false, me, options)?;
        let muted = call.is_muted();
        let id = self
            .inner
            .driver
            .update(|engine| engine.join_group(group_id, muted, lobby));
        self.inner.starts.borrow_mut().insert(id, call_id);
        Ok(call)
    }
}

#[wasm_bindgen]
impl CallAgent {
    /// The calls in progress.
    #[wasm_bindgen(getter, unchecked_return_type = "Call[]")]
    pub fn calls(&self) -> JsValue {
        array(self.inner.calls.borrow().iter().map(Call::js))
    }

    /// `'CallAgent'`.
    #[wasm_bindgen(getter)]
    pub fn kind(&self) -> String {
        "CallAgent".into()
    }

    /// The name others see.
    #[wasm_bindgen(getter, js_name = displayName)]
    pub fn display_name(&self) -> Option<String> {
        let name = self
            .inner
            .driver
            .read(|engine| engine.display_name().to_owned());
        (!name.is_empty()).then_some(name)
    }

    /// `'Connected'` or `'Disconnected'`.
    #[wasm_bindgen(getter, js_name = connectionState, unchecked_return_type = "ConnectionState")]
    pub fn connection_state(&self) -> String {
        self.inner
            .driver
            .read(|engine| engine.connection_state())
            .as_str()
            .into()
    }

    /// Calls one or more people (users by raw id); returns the `Call` at once.
    #[wasm_bindgen(js_name = startCall, unchecked_return_type = "Call")]
    pub fn start_call(
        &self,
        #[wasm_bindgen(unchecked_param_type = "CommunicationIdentifier[]")] participants: JsValue,
        #[wasm_bindgen(unchecked_param_type = "StartCallOptions")] options: JsValue,
    ) -> Result<JsValue, ApiError> {
        if !js_sys::Array::is_array(&participants) {
            return Err(ApiError::invalid_argument(
                "startCall needs an array of identifiers",
            ));
        }
        let targets = js_sys::Array::from(&participants)
            .iter()
            .map(|p| super::call::target_raw_id(&p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self.start(targets, &options)?.js())
    }

    /// Joins a group call (`{groupId}`), creating it if nobody is in it yet; rtcall's
    /// `{groupId, lobby: true}` makes a new one with a lobby, where later joiners wait.
    #[wasm_bindgen(unchecked_return_type = "Call")]
    pub fn join(
        &self,
        #[wasm_bindgen(unchecked_param_type = "GroupLocator")] locator: JsValue,
        #[wasm_bindgen(unchecked_param_type = "JoinCallOptions")] options: JsValue,
    ) -> Result<JsValue, ApiError> {
        let Some(group_id) = option(&locator, &["groupId"]).as_string() else {
            return Err(ApiError::new(
                SubCode::NotSupported,
                "join supports group call locators ({groupId}) only",
            ));
        };
        let lobby = option(&locator, &["lobby"]).is_truthy();
        Ok(self.enter_group(group_id, lobby, &options)?.js())
    }

    /// Signs out: calls end, the connection closes.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn dispose(&self) -> js_sys::Promise {
        self.inner.shut_down();
        if let Some(ready) = self.inner.ready.borrow_mut().take() {
            let _ = ready.send(Err(ApiError::new(SubCode::Disposed, "disposed")));
        }
        self.inner.js.release();
        js_sys::Promise::resolve(&JsValue::UNDEFINED)
    }
}

emitter_methods!(CallAgent, "CallAgent");

/// A random UUID (v4) from the browser's `crypto`.
fn new_uuid() -> String {
    if let Some(crypto) = web_sys::window().and_then(|w| w.crypto().ok()) {
        return crypto.random_uuid();
    }
    // Without crypto (very old browsers), Math.random still gives a unique enough call id.
    format!(
        "{:016x}{:016x}",
        (js_sys::Math::random() * 1e16) as u64,
        (js_sys::Math::random() * 1e16) as u64
    )
}
