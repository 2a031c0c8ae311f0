//! `Call`: one call's state, participants, local media and controls. State comes from the
//! server through the agent's engine ([`CallInner::apply`]); controls send requests and resolve
//! when the server confirms.

use super::audio_stream::{CallAudio, LocalAudioStream};
use super::call_agent::AgentInner;
use super::error::{ApiError, SubCode};
use super::events::{array, emitter_methods, object, Emitter};
use super::features::{
    factory_name, one, DominantSpeakersFeature, EchoTestFeature, UserFacingDiagnosticsFeature,
};
use super::identifier::{identifier_from_js, identifier_to_js};
use super::object::JsSelf;
use super::participant::RemoteParticipant;
use super::remote_audio::RemoteAudioStream;
use super::screen_share::ScreenShare;
use super::streams::LocalVideoStream;
use crate::engine::call::CallChange;
use crate::media::peer::{replaced, PeerSession, SendSource};
use rtcall_protocol::call::{CallId, CallState, EndReason, ParticipantId, StreamId};
use rtcall_protocol::signal::{Request, VideoSource};
use rtcall_protocol::CommunicationIdentifier;
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;

/// `CallState` as JavaScript spells it.
pub fn state_str(state: CallState) -> &'static str {
    match state {
        CallState::None => "None",
        CallState::Connecting => "Connecting",
        CallState::Ringing => "Ringing",
        CallState::EarlyMedia => "EarlyMedia",
        CallState::Connected => "Connected",
        CallState::LocalHold => "LocalHold",
        CallState::RemoteHold => "RemoteHold",
        CallState::InLobby => "InLobby",
        CallState::Disconnecting => "Disconnecting",
        CallState::Disconnected => "Disconnected",
    }
}

/// `CallEndReason` as a plain object, or undefined.
pub fn end_reason_js(reason: Option<EndReason>) -> JsValue {
    reason.map_or(JsValue::UNDEFINED, |r| {
        object(&[("code", r.code.into()), ("subCode", r.sub_code.into())])
    })
}

/// `callerInfo`.
pub fn caller_info_js(raw_id: &str, display_name: &str) -> JsValue {
    object(&[
        (
            "identifier",
            identifier_to_js(&CommunicationIdentifier::from_raw_id(raw_id)),
        ),
        ("displayName", display_name.into()),
    ])
}

/// A call's state.
pub struct CallInner {
    pub(crate) id: CallId,
    pub(crate) agent: Weak<AgentInner>,
    incoming: bool,
    caller: (String, String),
    state: Cell<CallState>,
    end_reason: Cell<Option<EndReason>>,
    pub(crate) muted: Cell<bool>,
    participants: RefCell<Vec<RemoteParticipant>>,
    /// Local videos being sent, with the object the app passed (handed back as is).
    local_video: RefCell<Vec<(LocalVideoStream, JsValue)>>,
    pub(crate) screen: RefCell<Option<ScreenShare>>,
    pub(crate) media: RefCell<Option<PeerSession>>,
    /// The audio track captured for sending, before effects: the microphone, or a clone of
    /// the app's custom audio track (so that mute and hang-up leave the app's own alone).
    pub(crate) microphone: RefCell<Option<web_sys::MediaStreamTrack>>,
    /// What the call sends and how: its audio streams, effects and DSP worklet.
    pub(crate) audio: CallAudio,
    dominant: RefCell<Option<DominantSpeakersFeature>>,
    echo_test: RefCell<Option<EchoTestFeature>>,
    pub(crate) diagnostics: RefCell<Option<UserFacingDiagnosticsFeature>>,
    pub(crate) remote_audio: RefCell<Option<RemoteAudioStream>>,
    pub(crate) emitter: Emitter,
    js: JsSelf,
}

/// A call (`Call`).
#[wasm_bindgen]
#[derive(Clone)]
pub struct Call {
    pub(crate) inner: Rc<CallInner>,
}

impl Call {
    /// A new call, in state `None`.
    pub(crate) fn new(
        id: CallId,
        agent: &Rc<AgentInner>,
        incoming: bool,
        caller: (String, String),
        muted: bool,
    ) -> Self {
        Call {
            inner: Rc::new(CallInner {
                id,
                agent: Rc::downgrade(agent),
                incoming,
                caller,
                state: Cell::new(CallState::None),
                end_reason: Cell::new(None),
                muted: Cell::new(muted),
                participants: RefCell::default(),
                local_video: RefCell::default(),
                screen: RefCell::new(None),
                media: RefCell::new(None),
                microphone: RefCell::new(None),
                audio: CallAudio::default(),
                dominant: RefCell::new(None),
                echo_test: RefCell::new(None),
                diagnostics: RefCell::new(None),
                remote_audio: RefCell::new(None),
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
            .borrow()
            .as_ref()
            .map(|m| m.connection().clone())
    }

    /// Opens what the call sends (its microphone, or an app's audio) and starts sending it
    /// (muted if the call is).
    pub(crate) fn start_audio_source(&self) {
        let call = Rc::downgrade(&self.inner);
        wasm_bindgen_futures::spawn_local(async move {
            let Some(call) = call.upgrade() else { return };
            if let Err(e) = CallAudio::open_source(&call).await {
                web_sys::console::warn_1(
                    &format!("rtcall: the call goes on without audio: {e}").into(),
                );
            }
        });
    }

    /// Applies an engine change and fires the events it means.
    pub(crate) fn apply(&self, change: CallChange) {
        let inner = &self.inner;
        match change {
            CallChange::State(state, end_reason) => {
                if state == CallState::Disconnected {
                    inner.end_reason.set(end_reason);
                }
                if inner.state.replace(state) != state {
                    inner.emitter.changed("stateChanged");
                }
                if state == CallState::Disconnected {
                    self.close();
                }
            }
            CallChange::Muted(muted) => {
                if inner.muted.replace(muted) != muted {
                    inner.emitter.changed("isMutedChanged");
                }
            }
            CallChange::Participant(model, changes) => {
                if let Some(p) = self.participant_by_id(model.id) {
                    p.update(&model, changes);
                }
            }
            CallChange::Added(models) => {
                let mut added = Vec::new();
                for model in models {
                    // A participant added through addParticipant exists already, unbound.
                    let placeholder = inner
                        .participants
                        .borrow()
                        .iter()
                        .find(|p| p.is_placeholder_for(&model.identity))
                        .cloned();
                    match placeholder {
                        Some(p) => p.bind(&model),
                        None => {
                            let p = RemoteParticipant::from_model(Rc::downgrade(inner), &model);
                            inner.participants.borrow_mut().push(p.clone());
                            added.push(p.js());
                        }
                    }
                }
                inner
                    .emitter
                    .updated("remoteParticipantsUpdated", added, Vec::new());
            }
            CallChange::Removed(models) => {
                let mut removed = Vec::new();
                for model in models {
                    let gone = {
                        let mut list = inner.participants.borrow_mut();
                        list.iter()
                            .position(|p| p.id() == Some(model.id))
                            .map(|i| list.remove(i))
                    };
                    if let Some(p) = gone {
                        removed.push(p.js());
                        p.release();
                    }
                }
                inner
                    .emitter
                    .updated("remoteParticipantsUpdated", Vec::new(), removed);
            }
            CallChange::DominantSpeakers(ranked) => {
                if let Some(feature) = inner.dominant.borrow().as_ref() {
                    feature.update(self.identifiers_of(&ranked));
                }
            }
            CallChange::DtmfReceived(participant, tone) => {
                let participant = self
                    .participant_by_id(participant)
                    .map_or(JsValue::UNDEFINED, |p| p.js());
                inner.emitter.emit(
                    "dtmfReceived",
                    object(&[("participant", participant), ("tone", tone.into())]),
                );
            }
            CallChange::EchoReport(report) => {
                inner
                    .echo_test
                    .borrow_mut()
                    .get_or_insert_with(EchoTestFeature::new)
                    .update(report);
            }
        }
    }

    /// Raw ids of participants, including this endpoint's own.
    fn identifiers_of(&self, ids: &[ParticipantId]) -> Vec<String> {
        let me = self.inner.agent.upgrade().map(|a| a.identity());
        let own = self
            .inner
            .agent
            .upgrade()
            .and_then(|a| a.own_participant(&self.inner.id));
        ids.iter()
            .filter_map(|id| {
                if Some(*id) == own {
                    me.clone()
                } else {
                    self.participant_by_id(*id).map(|p| p.identity().to_owned())
                }
            })
            .collect()
    }

    fn participant_by_id(&self, id: ParticipantId) -> Option<RemoteParticipant> {
        self.inner
            .participants
            .borrow()
            .iter()
            .find(|p| p.id() == Some(id))
            .cloned()
    }

    /// The call ended: media stops, objects let go.
    fn close(&self) {
        let inner = &self.inner;
        self.end_screen_share();
        if let Some(media) = inner.media.borrow_mut().take() {
            media.close();
        }
        if let Some(track) = inner.microphone.borrow_mut().take() {
            track.stop();
        }
        inner.audio.close();
        if let Some(remote) = inner.remote_audio.borrow_mut().take() {
            remote.close();
        }
        let videos = std::mem::take(&mut *inner.local_video.borrow_mut());
        for (stream, _) in &videos {
            stream.detach_call(inner);
            stream.release();
        }
        if let Some(agent) = inner.agent.upgrade() {
            agent.remove_call(self);
        }
        for p in inner.participants.borrow().iter() {
            p.release();
        }
        inner.js.release();
    }

    pub(crate) fn check_active(&self) -> Result<(), ApiError> {
        match self.inner.state.get() {
            CallState::Disconnecting | CallState::Disconnected => {
                Err(ApiError::new(SubCode::WrongState, "the call has ended"))
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn agent(&self) -> Result<Rc<AgentInner>, ApiError> {
        self.inner
            .agent
            .upgrade()
            .ok_or_else(|| ApiError::new(SubCode::Disposed, "the call agent has been disposed"))
    }

    async fn request(&self, request: Request) -> Result<(), ApiError> {
        let agent = self.agent()?;
        AgentInner::send(&agent, request).await
    }

    /// Starts sending a local video.
    pub async fn start_video(&self, stream: LocalVideoStream, js: JsValue) -> Result<(), ApiError> {
        self.check_active()?;
        if self
            .inner
            .local_video
            .borrow()
            .iter()
            .any(|(s, _)| Rc::ptr_eq(&s.inner, &stream.inner))
        {
            return Err(ApiError::new(
                SubCode::WrongState,
                "this video is already being sent",
            ));
        }
        if !self.inner.local_video.borrow().is_empty() {
            return Err(ApiError::new(
                SubCode::WrongState,
                "another video is being sent; stop it or use switchSource",
            ));
        }
        let track = stream.acquire().await?;
        let pending = self
            .inner
            .media
            .borrow()
            .as_ref()
            .and_then(|m| m.set_track(SendSource::Camera, Some(track)));
        replaced(pending).await;
        stream.attach_call(&self.inner);
        self.inner
            .local_video
            .borrow_mut()
            .push((stream, js.clone()));
        self.inner.emitter.changed("isLocalVideoStartedChanged");
        self.inner
            .emitter
            .updated("localVideoStreamsUpdated", vec![js], Vec::new());
        let agent = self.agent()?;
        let id = agent.engine_set_video(&self.inner.id, VideoSource::Camera, true);
        agent.wait(id).await
    }

    /// Stops sending a local video.
    pub async fn stop_video(&self, stream: LocalVideoStream) -> Result<(), ApiError> {
        let removed = {
            let mut list = self.inner.local_video.borrow_mut();
            let i = list
                .iter()
                .position(|(s, _)| Rc::ptr_eq(&s.inner, &stream.inner))
                .ok_or_else(|| {
                    ApiError::new(SubCode::WrongState, "this video is not being sent")
                })?;
            list.remove(i)
        };
        let pending = self
            .inner
            .media
            .borrow()
            .as_ref()
            .and_then(|m| m.set_track(SendSource::Camera, None));
        replaced(pending).await;
        removed.0.detach_call(&self.inner);
        removed.0.release();
        self.inner.emitter.changed("isLocalVideoStartedChanged");
        self.inner
            .emitter
            .updated("localVideoStreamsUpdated", Vec::new(), vec![removed.1]);
        if self.check_active().is_err() {
            return Ok(());
        }
        let agent = self.agent()?;
        let id = agent.engine_set_video(&self.inner.id, VideoSource::Camera, false);
        agent.wait(id).await
    }

    async fn set_muted(&self, muted: bool) -> Result<(), ApiError> {
        self.check_active()?;
        if let Some(track) = self.inner.microphone.borrow().as_ref() {
            track.set_enabled(!muted);
        }
        self.inner.audio.set_muted(muted);
        let agent = self.agent()?;
        match agent.engine_set_muted(&self.inner.id, muted) {
            Some(id) => agent.wait(id).await,
            None => Ok(()),
        }
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

    /// Uses `track` as the microphone (after the device changed, or at call start); returns
    /// once it is being sent.
    pub(crate) async fn use_microphone(&self, track: web_sys::MediaStreamTrack) {
        track.set_enabled(!self.inner.muted.get());
        self.inner.audio.feed(&track);
        let old = self
            .inner
            .microphone
            .borrow_mut()
            .replace(Clone::clone(&track));
        self.send_microphone().await;
        if let Some(old) = old {
            old.stop();
        }
        // Processing asked for before now starts once the microphone is on the wire (the
        // worklet takes a moment to load), then carries it if an effect is on.
        if CallAudio::start_wanted(&self.inner, &track).await {
            self.send_microphone().await;
        }
    }

    /// Sends the microphone as it should go (raw, or through the DSP when an effect is on) on
    /// the audio line, or into the tab-audio mix while a tab's audio is shared; returns once
    /// it is on the wire.
    pub(crate) async fn send_microphone(&self) {
        let Some(raw) = self.inner.microphone.borrow().clone() else {
            return;
        };
        let track = self.inner.audio.outgoing(&raw);
        let pending = match self.inner.screen.borrow().as_ref().and_then(|s| s.mix()) {
            Some(mix) => {
                mix.set_microphone(Some(&track));
                None
            }
            None => self
                .inner
                .media
                .borrow()
                .as_ref()
                .and_then(|m| m.set_track(SendSource::Microphone, Some(track))),
        };
        replaced(pending).await;
    }

    /// Subscribes a remote stream at a height, or unsubscribes it (`None`).
    pub(crate) fn subscribe(&self, stream: StreamId, max_height: Option<u32>) {
        if self.check_active().is_err() {
            return;
        }
        if let Some(agent) = self.inner.agent.upgrade() {
            agent.engine_subscribe(&self.inner.id, stream, max_height);
        }
    }
}

impl CallInner {
    /// See [`Call::subscribe`].
    pub(crate) fn subscribe(self: &Rc<Self>, stream: StreamId, max_height: Option<u32>) {
        Call {
            inner: Rc::clone(self),
        }
        .subscribe(stream, max_height);
    }
}

fn promise<F>(future: F) -> js_sys::Promise
where
    F: std::future::Future<Output = Result<(), ApiError>> + 'static,
{
    wasm_bindgen_futures::future_to_promise(async move {
        future.await?;
        Ok(JsValue::UNDEFINED)
    })
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
        self.inner.muted.get()
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
        array([CallAudio::shown(&self.inner).js()])
    }

    /// What the call receives, as `[RemoteAudioStream]` (all remote audio together). Empty once
    /// the call ended.
    #[wasm_bindgen(getter, js_name = remoteAudioStreams, unchecked_return_type = "RemoteAudioStream[]")]
    pub fn remote_audio_streams(&self) -> JsValue {
        if self.check_active().is_err() {
            return array([]);
        }
        array([RemoteAudioStream::of(&self.inner).js()])
    }

    /// The other participants.
    #[wasm_bindgen(getter, js_name = remoteParticipants, unchecked_return_type = "RemoteParticipant[]")]
    pub fn remote_participants(&self) -> JsValue {
        array(
            self.inner
                .participants
                .borrow()
                .iter()
                .map(RemoteParticipant::js),
        )
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
            CallAudio::send_custom(&this.inner, Some(custom)).await
        })
    }

    /// Stops sending the app's own audio: the microphone goes back on the line.
    #[wasm_bindgen(js_name = stopAudio)]
    pub fn stop_audio(&self) {
        if self.check_active().is_err() || !self.inner.audio.sends_custom() {
            return;
        }
        let call = Rc::clone(&self.inner);
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(e) = CallAudio::send_custom(&call, None).await {
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
        let participant = RemoteParticipant::placeholder(Rc::downgrade(&self.inner), raw.clone());
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
    /// `call.feature(Features.UserFacingDiagnostics)`, or rtcall's
    /// `call.feature(Features.EchoTest)` in a call to `8:echo123`.
    #[wasm_bindgen(
        unchecked_return_type = "DominantSpeakersCallFeature | EchoTestCallFeature | UserFacingDiagnosticsFeature"
    )]
    pub fn feature(&self, factory: JsValue) -> Result<JsValue, ApiError> {
        let inner = &self.inner;
        match factory_name(&factory).as_str() {
            "DominantSpeakers" => Ok(one(&inner.dominant, DominantSpeakersFeature::new).js()),
            "EchoTest" => Ok(one(&inner.echo_test, EchoTestFeature::new).js()),
            "UserFacingDiagnostics" => {
                let feature = one(&inner.diagnostics, UserFacingDiagnosticsFeature::new);
                // Speaking while muted comes from the microphone's DSP: start it.
                CallAudio::listen(inner);
                Ok(feature.js())
            }
            other => Err(ApiError::new(
                SubCode::NotSupported,
                format!("the call feature '{other}' is not supported"),
            )),
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
