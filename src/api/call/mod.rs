//! `Call`: one call's state, participants, local media and controls. State comes from the
//! server through the agent's engine ([`Call::apply`]); controls send requests through the
//! [`Driver`] and resolve when the server confirms. What the call sends lives in its
//! [`LocalMedia`]; `audio` holds the call's audio stream objects, `screen_share` its screen
//! share.

mod audio;
mod changes;
mod network;
mod screen_share;
mod video;

use super::audio_stream::LocalAudioStream;
use super::convert::{caller_info_js, end_reason_js, state_str};
use super::device_manager::DeviceState;
use super::diagnostics::UserFacingDiagnosticsFeature;
use super::error::{ApiError, SubCode};
use super::events::{array, emitter_methods, Emitter};
use super::feature_host::Features;
use super::features::{factory_name, one, DominantSpeakersFeature, EchoTestFeature};
use super::identifier::identifier_from_js;
use super::lobby::Lobby;
use super::local_media::{LocalMedia, MicrophoneChoice};
use super::object::JsSelf;
use super::participant::{ParticipantCall, RemoteParticipant};
use super::remote_audio::RemoteAudioStream;
use super::streams::{LocalVideoStream, Subscriber};
use crate::api::promise::promise;
use crate::engine::agent::{Agent, Request};
use crate::signal::Driver;
use audio::CallAudio;
use rtcall_protocol::call::{
    CallId, CallState, EndReason, ParticipantId, ParticipantState, StreamId,
};
use rtcall_protocol::features::Role;
use rtcall_protocol::signal::{Reply, RequestId, VideoSource};
use screen_share::ScreenShare;
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// A call's state.
pub struct CallInner {
    pub(crate) id: CallId,
    driver: Weak<Driver>,
    /// This endpoint's identity (raw id).
    pub(crate) identity: String,
    incoming: bool,
    caller: (String, String),
    state: Cell<CallState>,
    end_reason: Cell<Option<EndReason>>,
    /// Everyone else known, those waiting in the lobby included.
    pub(crate) participants: RefCell<Vec<RemoteParticipant>>,
    role: Cell<Role>,
    /// Local videos being sent, with the object the app passed (handed back as is).
    local_video: RefCell<Vec<(LocalVideoStream, JsValue)>>,
    screen: RefCell<Option<ScreenShare>>,
    /// What the call sends and how.
    pub(crate) media: Rc<LocalMedia>,
    network: network::NetworkWatch,
    /// The call's audio stream objects.
    audio: CallAudio,
    dominant: RefCell<Option<DominantSpeakersFeature>>,
    echo_test: RefCell<Option<EchoTestFeature>>,
    remote_audio: RefCell<Option<RemoteAudioStream>>,
    /// The lazily loaded features and what they are told.
    pub(crate) features: Features,
    lobby: Lobby,
    emitter: Emitter,
    js: JsSelf,
}

impl CallInner {
    /// Sends a request and waits for the service's answer.
    pub(crate) async fn ask(&self, request: Request) -> Result<Reply, ApiError> {
        let driver = self.driver.upgrade().ok_or_else(disposed)?;
        driver
            .send(request)
            .await
            .ok_or_else(disposed)?
            .map_err(ApiError::from)
    }

    /// This endpoint's participant id, once known.
    pub(crate) fn own_participant(&self) -> Option<ParticipantId> {
        let driver = self.driver.upgrade()?;
        driver.read(|engine| engine.call(&self.id)?.me)
    }
}

impl ParticipantCall for CallInner {
    fn mute_participant(&self, identity: String) -> js_sys::Promise {
        let request = Request::MuteOthers {
            call_id: self.id.clone(),
            targets: Some(vec![identity]),
        };
        let driver = self.driver.clone();
        promise(async move {
            let driver = driver.upgrade().ok_or_else(disposed)?;
            driver.send(request).await.ok_or_else(disposed)??;
            Ok(())
        })
    }
}

impl Subscriber for CallInner {
    fn subscribe(&self, stream: StreamId, max_height: Option<u32>) {
        if !self.media.is_live() {
            return;
        }
        if let Some(driver) = self.driver.upgrade() {
            driver.update(|engine| engine.subscribe(&self.id, stream, max_height));
        }
    }
}

/// A call (`Call`).
#[wasm_bindgen]
#[derive(Clone)]
pub struct Call {
    pub(crate) inner: Rc<CallInner>,
}

impl Call {
    /// A new call (`Connecting` if `incoming`, else `None`) of the identity `identity` signed in with `driver`; its
    /// microphone follows the choice of `devices`.
    pub(crate) fn new(
        id: CallId,
        (driver, identity): (&Rc<Driver>, String),
        incoming: bool,
        caller: (String, String),
        muted: bool,
        devices: &Rc<DeviceState>,
    ) -> Self {
        let choice: Weak<dyn MicrophoneChoice> = Rc::downgrade(devices) as Weak<DeviceState>;
        let media = LocalMedia::new(muted, choice);
        devices.add_call(&media);
        let audio = CallAudio::new(&media);
        Call {
            inner: Rc::new_cyclic(|call: &Weak<CallInner>| CallInner {
                id,
                driver: Rc::downgrade(driver),
                identity,
                incoming,
                caller,
                // An answered call is connecting at once (as ACS shows it after `accept()`);
                // one this endpoint starts stays `None` until the service takes it.
                state: Cell::new(if incoming {
                    CallState::Connecting
                } else {
                    CallState::None
                }),
                end_reason: Cell::new(None),
                participants: RefCell::default(),
                role: Cell::new(Role::Unknown),
                local_video: RefCell::default(),
                screen: RefCell::new(None),
                media,
                network: network::NetworkWatch::default(),
                audio,
                dominant: RefCell::new(None),
                echo_test: RefCell::new(None),
                remote_audio: RefCell::new(None),
                features: Features::default(),
                lobby: Lobby::new(call.clone()),
                emitter: Emitter::default(),
                js: JsSelf::default(),
            }),
        }
    }

    /// The object's one JS wrapper.
    pub fn js(&self) -> JsValue {
        self.inner.js.get(|| self.clone().into())
    }

    /// The call's id.
    pub fn call_id(&self) -> &CallId {
        &self.inner.id
    }

    /// The call's current state.
    pub fn current_state(&self) -> CallState {
        self.inner.state.get()
    }

    /// The remote participants.
    pub fn participants(&self) -> Vec<RemoteParticipant> {
        self.inner.participants.borrow().clone()
    }

    /// The call's media connection, for statistics.
    pub fn peer_connection(&self) -> Option<web_sys::RtcPeerConnection> {
        self.inner
            .media
            .peer
            .borrow()
            .as_ref()
            .map(|m| m.connection().clone())
    }

    /// Opens what the call sends (its microphone, or an app's audio) and starts sending it
    /// (muted if the call is).
    pub(crate) fn start_audio_source(&self) {
        let media = Rc::downgrade(&self.inner.media);
        wasm_bindgen_futures::spawn_local(async move {
            let Some(media) = media.upgrade() else { return };
            if let Err(e) = media.open().await {
                // A call that ended while its microphone opened goes on with nothing.
                if media.is_live() {
                    web_sys::console::warn_1(
                        &format!("rtcall: the call goes on without audio: {e}").into(),
                    );
                }
            }
        });
    }

    /// The call, as its participants see it (it receives their streams, and mutes them).
    pub(super) fn host_of_participants(&self) -> Weak<dyn ParticipantCall> {
        Rc::downgrade(&self.inner) as Weak<CallInner>
    }

    /// The call ended: media stops, its objects are let go (the call's own wrapper by the
    /// agent, see [`Call::release`]).
    pub(super) fn close(&self) {
        let inner = &self.inner;
        self.stop_watching_network();
        self.end_screen_share();
        inner.media.close();
        inner.audio.close();
        if let Some(remote) = inner.remote_audio.borrow_mut().take() {
            remote.close();
        }
        let videos = std::mem::take(&mut *inner.local_video.borrow_mut());
        for (stream, _) in &videos {
            stream.detach_call(&inner.media);
            stream.release();
        }
        for p in inner.participants.borrow().iter() {
            p.release();
        }
        inner.features.close();
    }

    /// Lets the JS wrapper go (and with it the call, once the app drops it): after the agent
    /// has told the app the call left `calls`, with this very object.
    pub(crate) fn release(&self) {
        self.inner.js.release();
    }

    pub(crate) fn check_active(&self) -> Result<(), ApiError> {
        match self.inner.state.get() {
            CallState::Disconnecting | CallState::Disconnected => {
                Err(ApiError::new(SubCode::WrongState, "the call has ended"))
            }
            _ => Ok(()),
        }
    }

    fn driver(&self) -> Result<Rc<Driver>, ApiError> {
        self.inner.driver.upgrade().ok_or_else(disposed)
    }

    /// Changes the engine for this call: a request to wait for with [`Call::reply`], if one
    /// is needed.
    fn prepare(
        &self,
        change: impl FnOnce(&mut Agent, &CallId) -> Option<RequestId>,
    ) -> Result<Option<RequestId>, ApiError> {
        Ok(self
            .driver()?
            .prepare(|engine| change(engine, &self.inner.id)))
    }

    /// The service's answer to request `id` (none needed: `None`).
    async fn reply(&self, id: Option<RequestId>) -> Result<(), ApiError> {
        let Some(id) = id else {
            return Ok(());
        };
        self.driver()?.wait(id).await.ok_or_else(disposed)??;
        Ok(())
    }

    /// Sends a request and waits for the service's answer.
    async fn request(&self, request: Request) -> Result<(), ApiError> {
        self.inner.ask(request).await.map(drop)
    }

    /// Tells the service that a video source is on or off, and waits for its answer.
    pub(super) async fn set_video(&self, source: VideoSource, on: bool) -> Result<(), ApiError> {
        let id = self.prepare(|engine, id| Some(engine.set_video(id, source, on)))?;
        self.reply(id).await
    }

    async fn set_muted(&self, muted: bool) -> Result<(), ApiError> {
        self.check_active()?;
        self.inner.media.mute_tracks(muted);
        let id = self.prepare(|engine, id| engine.set_muted(id, muted))?;
        self.reply(id).await
    }

    async fn set_hold(&self, hold: bool) -> Result<(), ApiError> {
        let allowed = if hold {
            matches!(
                self.inner.state.get(),
                CallState::Connected | CallState::RemoteHold
            )
        } else {
            self.inner.state.get() == CallState::LocalHold
        };
        if !allowed {
            let what = if hold {
                "hold() needs a Connected call"
            } else {
                "resume() needs a call on LocalHold"
            };
            return Err(ApiError::new(
                SubCode::WrongState,
                format!("{what}; the call is {}", state_str(self.inner.state.get())),
            ));
        }
        self.request(Request::SetHold {
            call_id: self.inner.id.clone(),
            hold,
        })
        .await
    }
}

/// The error of a call whose agent was disposed.
fn disposed() -> ApiError {
    ApiError::new(SubCode::Disposed, "the call agent has been disposed")
}

#[wasm_bindgen]
impl Call {
    /// The call's id.
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> String {
        self.inner.id.0.clone()
    }

    /// `'Call'`.
    #[wasm_bindgen(getter)]
    pub fn kind(&self) -> String {
        "Call".into()
    }

    /// The `CallState`.
    #[wasm_bindgen(getter, unchecked_return_type = "CallState")]
    pub fn state(&self) -> String {
        state_str(self.inner.state.get()).into()
    }

    /// Why the call ended (`{code, subCode}`), once it has.
    #[wasm_bindgen(getter, js_name = callEndReason, unchecked_return_type = "CallEndReason | undefined")]
    pub fn call_end_reason(&self) -> JsValue {
        end_reason_js(self.inner.end_reason.get())
    }

    /// `'Incoming'` or `'Outgoing'`.
    #[wasm_bindgen(getter, unchecked_return_type = "CallDirection")]
    pub fn direction(&self) -> String {
        if self.inner.incoming {
            "Incoming"
        } else {
            "Outgoing"
        }
        .into()
    }

    /// Who started the call (`{identifier, displayName}`).
    #[wasm_bindgen(getter, js_name = callerInfo, unchecked_return_type = "CallerInfo")]
    pub fn caller_info(&self) -> JsValue {
        caller_info_js(&self.inner.caller.0, &self.inner.caller.1)
    }

    /// The microphone is muted.
    #[wasm_bindgen(getter, js_name = isMuted)]
    pub fn is_muted(&self) -> bool {
        self.inner.media.muted.get()
    }

    /// This endpoint is sharing its screen.
    #[wasm_bindgen(getter, js_name = isScreenSharingOn)]
    pub fn is_screen_sharing_on(&self) -> bool {
        self.inner.screen.borrow().is_some()
    }

    /// A local video is being sent.
    #[wasm_bindgen(getter, js_name = isLocalVideoStarted)]
    pub fn is_local_video_started(&self) -> bool {
        !self.inner.local_video.borrow().is_empty()
    }

    /// The local videos being sent: the camera (or app video), then the screen share.
    #[wasm_bindgen(getter, js_name = localVideoStreams, unchecked_return_type = "LocalVideoStream[]")]
    pub fn local_video_streams(&self) -> JsValue {
        let screen = self.inner.screen.borrow().as_ref().map(|s| s.js.clone());
        array(
            self.inner
                .local_video
                .borrow()
                .iter()
                .map(|(_, js)| js.clone())
                .chain(screen),
        )
    }

    /// What the call sends, as `[LocalAudioStream]`: the microphone (one object for the call's
    /// life, following the selected microphone), or the app's own audio between `startAudio`
    /// and `stopAudio`. Empty once the call ended.
    #[wasm_bindgen(getter, js_name = localAudioStreams, unchecked_return_type = "LocalAudioStream[]")]
    pub fn local_audio_streams(&self) -> JsValue {
        if self.check_active().is_err() {
            return array([]);
        }
        array([self.inner.audio.shown().js()])
    }

    /// What the call receives, as `[RemoteAudioStream]` (all remote audio together). Empty once
    /// the call ended.
    #[wasm_bindgen(getter, js_name = remoteAudioStreams, unchecked_return_type = "RemoteAudioStream[]")]
    pub fn remote_audio_streams(&self) -> JsValue {
        if self.check_active().is_err() {
            return array([]);
        }
        let media = &self.inner.media;
        array([one(&self.inner.remote_audio, || RemoteAudioStream::new(media)).js()])
    }

    /// The other participants (not those waiting in the lobby: see `lobby`).
    #[wasm_bindgen(getter, js_name = remoteParticipants, unchecked_return_type = "RemoteParticipant[]")]
    pub fn remote_participants(&self) -> JsValue {
        array(
            self.inner
                .participants
                .borrow()
                .iter()
                .filter(|p| p.state_now() != ParticipantState::InLobby)
                .map(RemoteParticipant::js),
        )
    }

    /// This endpoint's role (`ParticipantRole`).
    #[wasm_bindgen(getter, unchecked_return_type = "ParticipantRole")]
    pub fn role(&self) -> String {
        self.inner.role.get().as_str().into()
    }

    /// The call's lobby: who waits to be let in.
    #[wasm_bindgen(getter, unchecked_return_type = "Lobby")]
    pub fn lobby(&self) -> JsValue {
        self.inner.lobby.js()
    }

    /// Mutes everyone else's microphone (those with a capability to).
    #[wasm_bindgen(js_name = muteAllRemoteParticipants, unchecked_return_type = "Promise<void>")]
    pub fn mute_all_remote_participants(&self) -> js_sys::Promise {
        let this = self.clone();
        promise(async move {
            this.check_active()?;
            this.request(Request::MuteOthers {
                call_id: this.inner.id.clone(),
                targets: None,
            })
            .await
        })
    }

    /// Mutes the microphone.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn mute(&self) -> js_sys::Promise {
        let this = self.clone();
        promise(async move { this.set_muted(true).await })
    }

    /// Unmutes the microphone.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn unmute(&self) -> js_sys::Promise {
        let this = self.clone();
        promise(async move { this.set_muted(false).await })
    }

    /// Puts the call on hold: media paused both ways.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn hold(&self) -> js_sys::Promise {
        let this = self.clone();
        promise(async move { this.set_hold(true).await })
    }

    /// Resumes a held call.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn resume(&self) -> js_sys::Promise {
        let this = self.clone();
        promise(async move { this.set_hold(false).await })
    }

    /// Starts sending a `LocalVideoStream`.
    #[wasm_bindgen(js_name = startVideo, unchecked_return_type = "Promise<void>")]
    pub fn js_start_video(
        &self,
        #[wasm_bindgen(unchecked_param_type = "LocalVideoStream")] stream: JsValue,
    ) -> js_sys::Promise {
        let this = self.clone();
        promise(async move {
            let local = LocalVideoStream::from_js(&stream)
                .ok_or_else(|| ApiError::invalid_argument("startVideo needs a LocalVideoStream"))?;
            this.start_video(local, stream).await
        })
    }

    /// Stops sending a `LocalVideoStream`.
    #[wasm_bindgen(js_name = stopVideo, unchecked_return_type = "Promise<void>")]
    pub fn js_stop_video(
        &self,
        #[wasm_bindgen(unchecked_param_type = "LocalVideoStream")] stream: JsValue,
    ) -> js_sys::Promise {
        let this = self.clone();
        promise(async move {
            let local = LocalVideoStream::from_js(&stream)
                .ok_or_else(|| ApiError::invalid_argument("stopVideo needs a LocalVideoStream"))?;
            this.stop_video(local).await
        })
    }

    /// Shares a screen, window or tab chosen in the browser's picker. Options (rtcall):
    /// `{displaySurface?: 'monitor'|'window'|'browser', audio?: boolean,
    /// contentHint?: 'detail'|'motion'}`.
    #[wasm_bindgen(js_name = startScreenSharing, unchecked_return_type = "Promise<void>")]
    pub fn js_start_screen_sharing(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ScreenSharingOptions")] options: JsValue,
    ) -> js_sys::Promise {
        let this = self.clone();
        promise(async move { this.start_screen_sharing(options).await })
    }

    /// Stops sharing the screen.
    #[wasm_bindgen(js_name = stopScreenSharing, unchecked_return_type = "Promise<void>")]
    pub fn js_stop_screen_sharing(&self) -> js_sys::Promise {
        let this = self.clone();
        promise(async move { this.stop_screen_sharing().await })
    }

    /// Sends an app's own audio (`new LocalAudioStream(mediaStream)`) instead of the
    /// microphone, in place on the audio line; mute and effects apply to it.
    #[wasm_bindgen(js_name = startAudio, unchecked_return_type = "Promise<void>")]
    pub fn start_audio(
        &self,
        #[wasm_bindgen(unchecked_param_type = "LocalAudioStream")] stream: JsValue,
    ) -> js_sys::Promise {
        let this = self.clone();
        promise(async move {
            this.check_active()?;
            let custom = LocalAudioStream::from_js(&stream)
                .filter(LocalAudioStream::is_custom)
                .ok_or_else(|| {
                    ApiError::invalid_argument(
                        "startAudio takes a LocalAudioStream made from a MediaStream; microphones are chosen with deviceManager.selectMicrophone",
                    )
                })?;
            custom.js_from_app(&stream);
            this.send_custom(Some(custom)).await
        })
    }

    /// Stops sending the app's own audio: the microphone goes back on the line.
    #[wasm_bindgen(js_name = stopAudio)]
    pub fn stop_audio(&self) {
        if self.check_active().is_err() || !self.inner.media.sends_custom() {
            return;
        }
        let call = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(e) = call.send_custom(None).await {
                web_sys::console::warn_1(
                    &format!("rtcall: cannot reopen the microphone after custom audio: {e}").into(),
                );
            }
        });
    }

    /// Sends a telephone key to the phones in the call (`'Num0'`…`'Num9'`, `'Star'`,
    /// `'Pound'`, `'A'`…`'D'`, `'Flash'`), as RFC 4733 events.
    #[wasm_bindgen(js_name = sendDtmf, unchecked_return_type = "Promise<void>")]
    pub fn send_dtmf(
        &self,
        #[wasm_bindgen(unchecked_param_type = "DtmfTone")] tone: JsValue,
    ) -> js_sys::Promise {
        let this = self.clone();
        promise(async move {
            this.check_active()?;
            let tone = tone.as_string().ok_or_else(|| {
                ApiError::invalid_argument("sendDtmf takes a tone name, e.g. 'Num5'")
            })?;
            this.request(Request::SendDtmf {
                call_id: this.inner.id.clone(),
                tone,
            })
            .await
        })
    }

    /// Invites someone into the call; returns their `RemoteParticipant` at once.
    #[wasm_bindgen(js_name = addParticipant, unchecked_return_type = "RemoteParticipant")]
    pub fn add_participant(
        &self,
        #[wasm_bindgen(unchecked_param_type = "CommunicationIdentifier")] identifier: JsValue,
        #[wasm_bindgen(unchecked_param_type = "AddPhoneNumberOptions")] options: JsValue,
    ) -> Result<JsValue, ApiError> {
        self.check_active()?;
        let raw = target_raw_id(&identifier)?;
        let caller_id = alternate_caller_id(&options)?;
        let participant = RemoteParticipant::placeholder(self.host_of_participants(), raw.clone());
        participant.list();
        self.inner
            .participants
            .borrow_mut()
            .push(participant.clone());
        self.inner.emitter.updated(
            "remoteParticipantsUpdated",
            vec![participant.js()],
            Vec::new(),
        );
        let this = self.clone();
        let placeholder = participant.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let result = this
                .request(Request::AddParticipant {
                    call_id: this.inner.id.clone(),
                    target: raw,
                    alternate_caller_id: caller_id,
                })
                .await;
            if let Err(e) = result {
                // The invitation never went out: the participant leaves with the error.
                placeholder.fail(EndReason {
                    code: e.code,
                    sub_code: e.sub_code,
                });
                let gone = {
                    let mut list = this.inner.participants.borrow_mut();
                    list.iter()
                        .position(|p| Rc::ptr_eq(&p.inner, &placeholder.inner))
                        .map(|i| list.remove(i))
                };
                if let Some(p) = gone {
                    this.inner.emitter.updated(
                        "remoteParticipantsUpdated",
                        Vec::new(),
                        vec![p.js()],
                    );
                }
            }
        });
        Ok(participant.js())
    }

    /// Removes a participant (every endpoint of that identity) from the call.
    #[wasm_bindgen(js_name = removeParticipant, unchecked_return_type = "Promise<void>")]
    pub fn remove_participant(
        &self,
        #[wasm_bindgen(unchecked_param_type = "CommunicationIdentifier")] identifier: JsValue,
    ) -> js_sys::Promise {
        let this = self.clone();
        promise(async move {
            this.check_active()?;
            let target = target_raw_id(&identifier)?;
            this.request(Request::RemoveParticipant {
                call_id: this.inner.id.clone(),
                target,
            })
            .await
        })
    }

    /// Leaves the call, or ends it for everyone (`{forEveryone: true}`).
    #[wasm_bindgen(js_name = hangUp, unchecked_return_type = "Promise<void>")]
    pub fn hang_up(
        &self,
        #[wasm_bindgen(unchecked_param_type = "HangUpOptions")] options: JsValue,
    ) -> js_sys::Promise {
        let this = self.clone();
        let for_everyone = options.is_object()
            && js_sys::Reflect::get(&options, &"forEveryone".into())
                .unwrap_or(JsValue::UNDEFINED)
                .is_truthy();
        promise(async move {
            if this.inner.state.get() == CallState::Disconnected {
                return Ok(());
            }
            this.request(Request::HangUp {
                call_id: this.inner.id.clone(),
                for_everyone,
            })
            .await
        })
    }

    /// A call feature: `call.feature(Features.DominantSpeakers)`,
    /// `call.feature(Features.UserFacingDiagnostics)`, rtcall's
    /// `call.feature(Features.EchoTest)` in a call to `8:echo123`, or one whose code loads when
    /// first asked for (`Features.RaiseHand`, …: their factories make them).
    #[wasm_bindgen(skip_typescript)]
    pub fn feature(&self, factory: JsValue) -> Result<JsValue, ApiError> {
        let inner = &self.inner;
        // A feature whose code loads when first asked for: its factory makes it.
        let create = js_sys::Reflect::get(&factory, &"create".into())
            .ok()
            .and_then(|c| c.dyn_into::<js_sys::Function>().ok());
        if let Some(create) = create {
            let host = inner.features.host(inner);
            return inner.features.made(&factory_name(&factory), || {
                create.call1(&factory, &host).map_err(|e| {
                    ApiError::from_js(SubCode::NotSupported, "the feature could not be made", &e)
                })
            });
        }
        match factory_name(&factory).as_str() {
            "DominantSpeakers" => Ok(one(&inner.dominant, DominantSpeakersFeature::new).js()),
            "EchoTest" => Ok(one(&inner.echo_test, EchoTestFeature::new).js()),
            "UserFacingDiagnostics" => {
                let feature = one(&inner.media.diagnostics, UserFacingDiagnosticsFeature::new);
                // Speaking while muted comes from the microphone's DSP: start it.
                inner.media.listen();
                Ok(feature.js())
            }
            other => Err(ApiError::new(
                SubCode::NotSupported,
                format!("the call feature '{other}' is not supported"),
            )),
        }
    }

    /// Panics while the engine changes this call, as a bug there would: the tests of
    /// [`crate::fault`] see the message in the console, this call end with
    /// `EndReason::LIBRARY_FAULT` and the others go on. Not part of the API.
    #[doc(hidden)]
    #[wasm_bindgen(js_name = __panicForTest, skip_typescript)]
    pub fn panic_for_test(&self, message: String) {
        if let Some(driver) = self.inner.driver.upgrade() {
            driver.update(|engine| engine.within_call(&self.inner.id, |_| panic!("{message}")));
        }
    }
}

emitter_methods!(Call, "Call");

/// The raw id of an identifier an app passes (any documented form).
pub fn target_raw_id(identifier: &JsValue) -> Result<String, ApiError> {
    Ok(identifier_from_js(identifier)?.raw_id())
}

/// The E.164 number of options' `alternateCallerId` (`{phoneNumber}`), the caller id a phone
/// sees; the service checks it is one of the deployment's.
pub fn alternate_caller_id(options: &JsValue) -> Result<Option<String>, ApiError> {
    let caller_id = js_sys::Reflect::get(options, &"alternateCallerId".into())
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null());
    let Some(caller_id) = caller_id else {
        return Ok(None);
    };
    match identifier_from_js(&caller_id)? {
        rtcall_protocol::CommunicationIdentifier::PhoneNumber { phone_number, .. } => {
            Ok(Some(phone_number))
        }
        _ => Err(ApiError::invalid_argument(
            "alternateCallerId is a PhoneNumberIdentifier ({phoneNumber: '+E.164'})",
        )),
    }
}
