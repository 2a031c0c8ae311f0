//! What a call sends, as ACS shows it. `call.localAudioStreams[0]` is its microphone, or an
//! app's own audio (`call.startAudio(new LocalAudioStream(mediaStream))`). A `LocalAudioStream`
//! has `getVolume()` (a `Volume` whose `level` follows the sound, 0–100) and
//! `feature(Features.AudioEffects)` (see `audio_effects`); switching the source, starting and
//! stopping custom audio, or an effect swaps the track on the audio line in place: no
//! renegotiation, no gap. [`CallAudio`] is the call's side: which stream it sends, and the DSP
//! worklet that measures and processes it.

use super::audio_effects::{AudioEffectsFeature, DEEP};
use super::call::{Call, CallInner};
use super::error::{ApiError, SubCode};
use super::events::{emitter_methods, Emitter};
use super::features::factory_name;
use super::object::{register, stream_of, unregister, JsSelf, StreamKey, StreamRef};
use crate::media::devices;
use crate::media::effects::{MicrophoneProcessor, Report};
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// A call's audio: the streams it shows and the processing of what it sends, made when the
/// app first asks for the volume or an effect.
#[derive(Default)]
pub(crate) struct CallAudio {
    pub(super) processor: RefCell<Option<Rc<MicrophoneProcessor>>>,
    /// The processor being made (so that two callers wait for one).
    loading: RefCell<Option<js_sys::Promise>>,
    /// The app asked for the volume or an effect: a microphone opened later gets processed.
    pub(super) wanted: Cell<bool>,
    /// The noise suppression on, by name.
    pub(super) active: RefCell<Option<&'static str>>,
    /// The browser's own suppression as last asked for (`None`: the browser's default), kept
    /// for every microphone the call opens.
    pub(super) browser_suppression: Cell<Option<bool>>,
    /// The call's microphone stream (the app's from `audioOptions`, or one made on demand).
    stream: RefCell<Option<LocalAudioStream>>,
    /// The app's own audio, sent instead of the microphone (`call.startAudio`).
    custom: RefCell<Option<LocalAudioStream>>,
}

/// The user-facing diagnostic raised while the microphone hears speech the call does not send.
const SPEAKING_WHILE_MUTED: &str = "speakingWhileMicrophoneIsMuted";

impl CallAudio {
    /// The track to send for the raw microphone `raw`.
    pub(crate) fn outgoing(&self, raw: &web_sys::MediaStreamTrack) -> web_sys::MediaStreamTrack {
        let deep = *self.active.borrow() == Some(DEEP);
        self.processor
            .borrow()
            .as_ref()
            .filter(|_| deep)
            .and_then(|p| p.track())
            .unwrap_or_else(|| Clone::clone(raw))
    }

    /// The microphone changed (opened, or another device): an existing processor listens to
    /// the new one from now on.
    pub(crate) fn feed(&self, raw: &web_sys::MediaStreamTrack) {
        if let Some(p) = self.processor.borrow().as_ref() {
            if let Err(e) = p.set_input(raw) {
                web_sys::console::warn_2(&"rtcall: cannot process the new microphone".into(), &e);
            }
        }
    }

    /// Makes the processor the app asked for before the microphone opened (or while another
    /// was being loaded from a previous microphone). Returns whether one was made.
    pub(crate) async fn start_wanted(
        call: &Rc<CallInner>,
        raw: &web_sys::MediaStreamTrack,
    ) -> bool {
        let effects = &call.audio;
        if !effects.wanted.get() || effects.processor.borrow().is_some() {
            return false;
        }
        let fed = Self::processor(call, raw).await.and_then(|p| {
            p.set_input(raw).map_err(|e| {
                ApiError::from_js(SubCode::DeviceFailed, "cannot process the microphone", &e)
            })
        });
        if let Err(e) = &fed {
            web_sys::console::warn_2(
                &"rtcall: cannot process the microphone".into(),
                &e.message.clone().into(),
            );
        }
        fed.is_ok()
    }

    /// The processor, made (once) from `raw` if there is none.
    pub(super) async fn processor(
        call: &Rc<CallInner>,
        raw: &web_sys::MediaStreamTrack,
    ) -> Result<Rc<MicrophoneProcessor>, ApiError> {
        let effects = &call.audio;
        if let Some(p) = effects.processor.borrow().clone() {
            return Ok(p);
        }
        let pending = effects.loading.borrow().clone();
        let promise = match pending {
            Some(promise) => promise,
            None => {
                let weak = Rc::downgrade(call);
                let raw = Clone::clone(raw);
                let reporting = weak.clone();
                let promise = wasm_bindgen_futures::future_to_promise(async move {
                    let processor = MicrophoneProcessor::new(&raw, move |report: Report| {
                        if let Some(call) = reporting.upgrade() {
                            Self::shown(&call).inner.volume.set_level(report.level);
                            Self::speaking(&call, report.speaking);
                        }
                    })
                    .await?;
                    // Not for a call that ended meanwhile: dropped, its audio context closes.
                    if let Some(call) = weak.upgrade().filter(|c| c.audio.wanted.get()) {
                        let deep = *call.audio.active.borrow() == Some(DEEP);
                        processor.set_noise_suppression(deep);
                        processor.set_output_enabled(!call.muted.get());
                        *call.audio.processor.borrow_mut() = Some(processor);
                    }
                    Ok(JsValue::UNDEFINED)
                });
                *effects.loading.borrow_mut() = Some(promise.clone());
                promise
            }
        };
        let result = JsFuture::from(promise).await;
        effects.loading.borrow_mut().take();
        result.map_err(|e| {
            ApiError::from_js(SubCode::NotSupported, "cannot start the audio worklet", &e)
        })?;
        effects
            .processor
            .borrow()
            .clone()
            .ok_or_else(|| ApiError::new(SubCode::WrongState, "the call ended"))
    }

    /// The worklet heard speech start or stop: raise or clear "speaking while muted".
    fn speaking(call: &Rc<CallInner>, speaking: bool) {
        if let Some(diagnostics) = call.diagnostics.borrow().as_ref() {
            diagnostics
                .media_flags()
                .set_flag(SPEAKING_WHILE_MUTED, speaking && call.muted.get());
        }
    }

    /// Mute: the processed track goes silent too (the worklet keeps listening).
    pub(crate) fn set_muted(&self, muted: bool) {
        if let Some(p) = self.processor.borrow().as_ref() {
            p.set_output_enabled(!muted);
        }
    }

    /// Starts the microphone's processing for diagnostics, now or when the microphone opens.
    pub(crate) fn listen(call: &Rc<CallInner>) {
        call.audio.wanted.set(true);
        let Some(raw) = call.microphone.borrow().clone() else {
            return;
        };
        let call = Rc::clone(call);
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(e) = Self::processor(&call, &raw).await {
                web_sys::console::warn_2(
                    &"rtcall: no speaking-while-muted diagnostic".into(),
                    &e.message.into(),
                );
            }
        });
    }

    /// The call's microphone stream, made on first use.
    fn microphone_stream(call: &Rc<CallInner>) -> LocalAudioStream {
        call.audio
            .stream
            .borrow_mut()
            .get_or_insert_with(|| {
                let stream = LocalAudioStream::with_source(AudioSource::Microphone(None));
                stream.attach(call);
                stream
            })
            .clone()
    }

    /// What the call sends, as a `LocalAudioStream`: the custom audio, else the microphone.
    pub(crate) fn shown(call: &Rc<CallInner>) -> LocalAudioStream {
        let custom = call.audio.custom.borrow().clone();
        custom.unwrap_or_else(|| Self::microphone_stream(call))
    }

    /// Takes the stream of the call options' `audioOptions.localAudioStreams` (the app's
    /// object `js`, handed back as is): a microphone to open, or custom audio to send.
    pub(crate) fn adopt(call: &Rc<CallInner>, stream: LocalAudioStream, js: &JsValue) {
        stream.js_from_app(js);
        stream.attach(call);
        let slot = match stream.is_custom() {
            true => &call.audio.custom,
            false => &call.audio.stream,
        };
        *slot.borrow_mut() = Some(stream);
    }

    /// Opens what the call sends (the custom audio, or the microphone stream's device, else
    /// the selected microphone) and sends it in place of what went before.
    pub(crate) async fn open_source(call: &Rc<CallInner>) -> Result<(), ApiError> {
        let source = Self::shown(call).inner.source.borrow().clone();
        let track = match source {
            AudioSource::Custom(media) => devices::first_track(&media.get_audio_tracks())
                // A clone: mute disables it, and ending the call stops it, not the app's.
                .map(|track| web_sys::MediaStreamTrack::clone(&track))
                .ok_or_else(|| ApiError::invalid_argument("the MediaStream has no audio track"))?,
            AudioSource::Microphone(device) => {
                let selected = || call.agent.upgrade()?.client.devices.microphone_id();
                let id = device.map(|(id, _)| id).or_else(selected);
                let suppression = call.audio.browser_suppression.get();
                devices::open_microphone(id.as_deref(), suppression)
                    .await
                    .map_err(|e| {
                        ApiError::from_js(SubCode::DeviceFailed, "cannot open the microphone", &e)
                    })?
            }
        };
        let call = Call {
            inner: Rc::clone(call),
        };
        if let Err(e) = call.check_active() {
            track.stop();
            return Err(e);
        }
        call.use_microphone(track).await;
        Ok(())
    }

    /// Sends `custom` (an app's audio) or, with `None`, the microphone again; tells the app
    /// with `localAudioStreamsUpdated`.
    pub(crate) async fn send_custom(
        call: &Rc<CallInner>,
        custom: Option<LocalAudioStream>,
    ) -> Result<(), ApiError> {
        let before = Self::shown(call);
        if let Some(stream) = &custom {
            if Rc::ptr_eq(&stream.inner, &before.inner) {
                return Ok(());
            }
            stream.check_free()?;
            stream.attach(call);
        }
        let previous = std::mem::replace(&mut *call.audio.custom.borrow_mut(), custom);
        if let Err(e) = Self::open_source(call).await {
            let failed = std::mem::replace(&mut *call.audio.custom.borrow_mut(), previous);
            failed.inspect(LocalAudioStream::detach);
            return Err(e);
        }
        previous.inspect(LocalAudioStream::detach);
        call.emitter.updated(
            "localAudioStreamsUpdated",
            vec![Self::shown(call).js()],
            vec![before.js()],
        );
        Ok(())
    }

    /// `deviceManager.selectMicrophone` chose another microphone: a call on its microphone
    /// switches to it (and its stream follows the selection from now on).
    pub(crate) async fn follow_selected_microphone(call: &Rc<CallInner>) -> Result<(), ApiError> {
        if call.audio.sends_custom() {
            return Ok(());
        }
        *Self::microphone_stream(call).inner.source.borrow_mut() = AudioSource::Microphone(None);
        Self::open_source(call).await
    }

    /// Whether the call sends an app's audio rather than its microphone.
    pub(crate) fn sends_custom(&self) -> bool {
        self.custom.borrow().is_some()
    }

    /// The call ended: the worklet's context closes, the objects are let go.
    pub(crate) fn close(&self) {
        self.processor.borrow_mut().take();
        self.wanted.set(false);
        for stream in [self.stream.take(), self.custom.take()]
            .into_iter()
            .flatten()
        {
            stream.detach();
            stream.inner.js.release();
            stream.inner.volume.inner.js.release();
            stream.inner.effects.inner.js.release();
        }
    }
}

/// Where a `LocalAudioStream`'s audio comes from.
#[derive(Clone)]
enum AudioSource {
    /// A microphone: an app's `AudioDeviceInfo` (its id, and the object to hand back), or
    /// `None` for the one `deviceManager.selectMicrophone` chose.
    Microphone(Option<(String, JsValue)>),
    /// An app's `MediaStream`: custom audio.
    Custom(web_sys::MediaStream),
}

impl AudioSource {
    fn from_js(value: JsValue) -> Result<Self, ApiError> {
        if let Some(stream) = value.dyn_ref::<web_sys::MediaStream>() {
            if devices::first_track(&stream.get_audio_tracks()).is_none() {
                return Err(ApiError::invalid_argument(
                    "the MediaStream has no audio track",
                ));
            }
            return Ok(AudioSource::Custom(Clone::clone(stream)));
        }
        let kind = js_sys::Reflect::get(&value, &"deviceType".into())
            .ok()
            .and_then(|k| k.as_string());
        match (super::streams::device_id(&value), kind.as_deref()) {
            (Some(id), None | Some("Microphone")) => Ok(AudioSource::Microphone(Some((id, value)))),
            _ => Err(ApiError::invalid_argument(
                "a LocalAudioStream needs a microphone's AudioDeviceInfo (from getMicrophones) or a MediaStream",
            )),
        }
    }
}

/// A local audio stream's state.
pub(crate) struct StreamInner {
    key: StreamKey,
    source: RefCell<AudioSource>,
    /// The call sending it, if any.
    call: RefCell<Weak<CallInner>>,
    volume: Volume,
    effects: AudioEffectsFeature,
    js: JsSelf,
}

impl Drop for StreamInner {
    fn drop(&mut self) {
        unregister(self.key);
    }
}

/// Audio to send (`LocalAudioStream`): a microphone, or an app's `MediaStream`.
#[wasm_bindgen]
#[derive(Clone)]
pub struct LocalAudioStream {
    pub(super) inner: Rc<StreamInner>,
}

impl LocalAudioStream {
    fn with_source(source: AudioSource) -> Self {
        LocalAudioStream {
            inner: Rc::new_cyclic(|weak: &Weak<StreamInner>| StreamInner {
                key: register(StreamRef::Audio(weak.clone())),
                source: RefCell::new(source),
                call: RefCell::new(Weak::new()),
                volume: Volume::new(),
                effects: AudioEffectsFeature::new(weak.clone()),
                js: JsSelf::default(),
            }),
        }
    }

    /// The stream an app passed in, if it is a `LocalAudioStream` of ours.
    pub(crate) fn from_js(value: &JsValue) -> Option<Self> {
        match stream_of(value)? {
            StreamRef::Audio(inner) => inner.upgrade().map(|inner| LocalAudioStream { inner }),
            _ => None,
        }
    }

    /// The object's one JS wrapper.
    pub fn js(&self) -> JsValue {
        self.inner.js.get(|| self.clone().into())
    }

    /// Records `js`, the app's own object for this stream, as the one to hand back.
    pub(crate) fn js_from_app(&self, js: &JsValue) {
        self.inner.js.get(|| js.clone());
    }

    /// Whether it carries an app's audio rather than a microphone.
    pub(crate) fn is_custom(&self) -> bool {
        matches!(*self.inner.source.borrow(), AudioSource::Custom(_))
    }

    /// Fails if a live call already has this stream (a stream goes to one call at a time).
    pub(crate) fn check_free(&self) -> Result<(), ApiError> {
        match self.call() {
            Ok(_) => Err(ApiError::new(
                SubCode::WrongState,
                "this LocalAudioStream is already in a call",
            )),
            Err(_) => Ok(()),
        }
    }

    fn attach(&self, call: &Rc<CallInner>) {
        *self.inner.call.borrow_mut() = Rc::downgrade(call);
    }

    fn detach(&self) {
        *self.inner.call.borrow_mut() = Weak::new();
    }

    /// The live call sending this stream.
    pub(super) fn call(&self) -> Result<Rc<CallInner>, ApiError> {
        self.inner
            .call
            .borrow()
            .upgrade()
            .filter(|c| {
                Call {
                    inner: Rc::clone(c),
                }
                .check_active()
                .is_ok()
            })
            .ok_or_else(|| ApiError::new(SubCode::WrongState, "this stream is not in a call"))
    }

    /// The live call sending this stream right now (not one it was replaced in).
    fn sending_call(&self) -> Option<Rc<CallInner>> {
        self.call()
            .ok()
            .filter(|c| Rc::ptr_eq(&CallAudio::shown(c).inner, &self.inner))
    }

    /// Uses `source` from now on; a call sending this stream switches to it in place.
    async fn switch_to(&self, source: JsValue) -> Result<(), ApiError> {
        let source = AudioSource::from_js(source)?;
        let call = self.sending_call();
        let custom = matches!(source, AudioSource::Custom(_));
        if call.is_some() && custom != self.is_custom() {
            return Err(ApiError::new(
                SubCode::WrongState,
                "a call changes between its microphone and custom audio with startAudio and stopAudio",
            ));
        }
        *self.inner.source.borrow_mut() = source;
        match call {
            Some(call) => CallAudio::open_source(&call).await,
            None => Ok(()),
        }
    }
}

#[wasm_bindgen]
impl LocalAudioStream {
    /// `new LocalAudioStream(audioDeviceInfo | mediaStream)`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "AudioDeviceInfo | MediaStream")] source: JsValue,
    ) -> Result<LocalAudioStream, ApiError> {
        Ok(Self::with_source(AudioSource::from_js(source)?))
    }

    /// The microphone's `AudioDeviceInfo`, or the app's `MediaStream`.
    #[wasm_bindgen(
        getter,
        unchecked_return_type = "AudioDeviceInfo | MediaStream | undefined"
    )]
    pub fn source(&self) -> JsValue {
        match &*self.inner.source.borrow() {
            AudioSource::Microphone(Some((_, info))) => info.clone(),
            AudioSource::Microphone(None) => self
                .call()
                .ok()
                .and_then(|c| c.agent.upgrade())
                .map_or(JsValue::UNDEFINED, |a| {
                    a.client.devices.selected_microphone()
                }),
            AudioSource::Custom(stream) => Clone::clone(stream).into(),
        }
    }

    /// `'Audio'` for a microphone, `'RawMedia'` for an app's `MediaStream`.
    #[wasm_bindgen(getter, js_name = mediaStreamType)]
    pub fn media_stream_type(&self) -> String {
        match self.is_custom() {
            true => "RawMedia".into(),
            false => "Audio".into(),
        }
    }

    /// Switches to another microphone (or, for custom audio, another `MediaStream`); a call
    /// sending the stream follows without renegotiation.
    #[wasm_bindgen(js_name = switchSource, unchecked_return_type = "Promise<void>")]
    pub fn switch_source(
        &self,
        #[wasm_bindgen(unchecked_param_type = "AudioDeviceInfo | MediaStream")] source: JsValue,
    ) -> js_sys::Promise {
        let this = self.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            this.switch_to(source).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Uses an app's `MediaStream` from now on (custom audio).
    #[wasm_bindgen(js_name = setMediaStream, unchecked_return_type = "Promise<void>")]
    pub fn set_media_stream(&self, stream: web_sys::MediaStream) -> js_sys::Promise {
        self.switch_source(stream.into())
    }

    /// The audio as captured, before effects: the app's `MediaStream`, the microphone a call
    /// sends, or else the microphone opened now (the app stops its tracks).
    #[wasm_bindgen(js_name = getMediaStream, unchecked_return_type = "Promise<MediaStream>")]
    pub fn get_media_stream(&self) -> js_sys::Promise {
        let this = self.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let source = this.inner.source.borrow().clone();
            let device = match source {
                AudioSource::Custom(stream) => return Ok(stream.into()),
                AudioSource::Microphone(device) => device.map(|(id, _)| id),
            };
            let sent = this
                .sending_call()
                .and_then(|c| c.microphone.borrow().clone());
            let track = match sent {
                Some(track) => track,
                None => devices::open_microphone(device.as_deref(), None)
                    .await
                    .map_err(|e| {
                        ApiError::from_js(SubCode::DeviceFailed, "cannot open the microphone", &e)
                    })?,
            };
            Ok(web_sys::MediaStream::new_with_tracks(&js_sys::Array::of1(&track))?.into())
        })
    }

    /// Its volume: `level` (0–100), updated about ten times a second while a call sends it.
    #[wasm_bindgen(js_name = getVolume, unchecked_return_type = "Promise<Volume>")]
    pub fn get_volume(&self) -> js_sys::Promise {
        let this = self.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            if let Some(call) = this.sending_call() {
                call.audio.wanted.set(true);
                let raw = call.microphone.borrow().clone();
                if let Some(raw) = raw {
                    CallAudio::processor(&call, &raw).await?;
                }
            }
            Ok(this.inner.volume.js())
        })
    }

    /// `feature(Features.AudioEffects)`.
    #[wasm_bindgen(unchecked_return_type = "AudioEffectsFeature")]
    pub fn feature(&self, factory: JsValue) -> Result<JsValue, ApiError> {
        match factory_name(&factory).as_str() {
            "AudioEffects" => Ok(self.inner.effects.js()),
            other => Err(ApiError::invalid_argument(format!(
                "no such local audio stream feature: '{other}'"
            ))),
        }
    }

    /// Finds this object again when an app passes it back (not part of the ACS API).
    #[wasm_bindgen(js_name = __rtcallKey, skip_typescript)]
    pub fn key(&self) -> u32 {
        self.inner.key
    }
}

pub(super) struct VolumeInner {
    level: Cell<f32>,
    emitter: Emitter,
    pub(super) js: JsSelf,
}

/// A microphone's volume (`Volume`).
#[wasm_bindgen]
#[derive(Clone)]
pub struct Volume {
    pub(super) inner: Rc<VolumeInner>,
}

impl Volume {
    pub(super) fn new() -> Self {
        Volume {
            inner: Rc::new(VolumeInner {
                level: Cell::new(0.0),
                emitter: Emitter::default(),
                js: JsSelf::default(),
            }),
        }
    }

    pub(super) fn js(&self) -> JsValue {
        self.inner.js.get(|| self.clone().into())
    }

    pub(super) fn set_level(&self, level: f32) {
        let level = level.round();
        if self.inner.level.replace(level) != level {
            self.inner.emitter.changed("levelChanged");
        }
    }
}

#[wasm_bindgen]
impl Volume {
    /// 0 (silence) to 100 (full scale).
    #[wasm_bindgen(getter)]
    pub fn level(&self) -> f32 {
        self.inner.level.get()
    }
}

emitter_methods!(Volume, "Volume");
