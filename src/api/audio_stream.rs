//! The call's audio as ACS shows it. `call.localAudioStreams[0]` is the microphone, a
//! `LocalAudioStream` with `getVolume()` (a `Volume` whose `level` follows the microphone,
//! 0–100) and `feature(Features.AudioEffects)` (noise suppression: rtcall's own in an
//! AudioWorklet, or the browser's); turning an effect on or off swaps the track on the audio
//! line in place: no renegotiation, no gap. `call.remoteAudioStreams[0]` is what the call
//! receives, with `getVolume()` from the browser's receive statistics.

use super::call::{Call, CallInner};
use super::error::{ApiError, SubCode};
use super::events::{emitter_methods, object, Emitter};
use super::features::factory_name;
use super::object::JsSelf;
use crate::media::effects::{self, MicrophoneProcessor, Report};
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

const DEEP: &str = "DeepNoiseSuppression";
const BROWSER: &str = "BrowserNoiseSuppression";

/// A call's microphone processing: made when the app first asks for the volume or an effect.
#[derive(Default)]
pub(crate) struct MicrophoneEffects {
    processor: RefCell<Option<Rc<MicrophoneProcessor>>>,
    /// The processor being made (so that two callers wait for one).
    loading: RefCell<Option<js_sys::Promise>>,
    /// The app asked for the volume or an effect: a microphone opened later gets processed.
    wanted: Cell<bool>,
    /// The noise suppression on, by name.
    active: RefCell<Option<&'static str>>,
    stream: RefCell<Option<LocalAudioStream>>,
}

/// The user-facing diagnostic raised while the microphone hears speech the call does not send.
const SPEAKING_WHILE_MUTED: &str = "speakingWhileMicrophoneIsMuted";

impl MicrophoneEffects {
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
        let effects = &call.effects;
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
    async fn processor(
        call: &Rc<CallInner>,
        raw: &web_sys::MediaStreamTrack,
    ) -> Result<Rc<MicrophoneProcessor>, ApiError> {
        let effects = &call.effects;
        if let Some(p) = effects.processor.borrow().clone() {
            return Ok(p);
        }
        let pending = effects.loading.borrow().clone();
        let promise = match pending {
            Some(promise) => promise,
            None => {
                let weak = Rc::downgrade(call);
                let raw = Clone::clone(raw);
                let volume = Self::volume(call);
                let reporting = weak.clone();
                let promise = wasm_bindgen_futures::future_to_promise(async move {
                    let processor = MicrophoneProcessor::new(&raw, move |report: Report| {
                        volume.report(report);
                        if let Some(call) = reporting.upgrade() {
                            Self::speaking(&call, report.speaking);
                        }
                    })
                    .await?;
                    // Not for a call that ended meanwhile: dropped, its audio context closes.
                    if let Some(call) = weak.upgrade().filter(|c| c.effects.wanted.get()) {
                        let deep = *call.effects.active.borrow() == Some(DEEP);
                        processor.set_noise_suppression(deep);
                        processor.set_output_enabled(!call.muted.get());
                        *call.effects.processor.borrow_mut() = Some(processor);
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
        call.effects.wanted.set(true);
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

    fn volume(call: &Rc<CallInner>) -> Volume {
        Self::stream(call).inner.volume.clone()
    }

    /// The call's one `LocalAudioStream`.
    pub(crate) fn stream(call: &Rc<CallInner>) -> LocalAudioStream {
        call.effects
            .stream
            .borrow_mut()
            .get_or_insert_with(|| LocalAudioStream::new(Rc::downgrade(call)))
            .clone()
    }

    /// The call ended: the worklet's context closes, the objects are let go.
    pub(crate) fn close(&self) {
        self.processor.borrow_mut().take();
        self.wanted.set(false);
        if let Some(stream) = self.stream.borrow().as_ref() {
            stream.inner.js.release();
            stream.inner.volume.inner.js.release();
            stream.inner.effects.inner.js.release();
        }
    }
}

/// Reopens the call's microphone (the same device) with the browser's noise suppression on or
/// off, and sends the new track.
async fn browser_noise_suppression(call: &Rc<CallInner>, on: bool) -> Result<(), ApiError> {
    let Some(raw) = call.microphone.borrow().clone() else {
        return Ok(());
    };
    let device = js_sys::Reflect::get(&raw, &"getSettings".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .and_then(|f| f.call0(&raw).ok())
        .and_then(|settings| js_sys::Reflect::get(&settings, &"deviceId".into()).ok())
        .and_then(|id| id.as_string());
    let track = crate::media::devices::open_microphone(device.as_deref(), on)
        .await
        .map_err(|e| {
            ApiError::from_js(SubCode::DeviceFailed, "cannot reopen the microphone", &e)
        })?;
    Call {
        inner: Rc::clone(call),
    }
    .use_microphone(track)
    .await;
    Ok(())
}

fn effect_name(effect: &JsValue) -> Option<String> {
    js_sys::Reflect::get(effect, &"name".into())
        .ok()
        .and_then(|n| n.as_string())
}

struct StreamInner {
    call: Weak<CallInner>,
    volume: Volume,
    effects: AudioEffectsFeature,
    js: JsSelf,
}

/// The call's microphone (`LocalAudioStream`).
#[wasm_bindgen]
#[derive(Clone)]
pub struct LocalAudioStream {
    inner: Rc<StreamInner>,
}

impl LocalAudioStream {
    fn new(call: Weak<CallInner>) -> Self {
        LocalAudioStream {
            inner: Rc::new(StreamInner {
                volume: Volume::new(),
                effects: AudioEffectsFeature::new(call.clone()),
                call,
                js: JsSelf::default(),
            }),
        }
    }

    /// The object's one JS wrapper.
    pub fn js(&self) -> JsValue {
        self.inner.js.get(|| self.clone().into())
    }
}

#[wasm_bindgen]
impl LocalAudioStream {
    /// `'Audio'`.
    #[wasm_bindgen(getter, js_name = mediaStreamType)]
    pub fn media_stream_type(&self) -> String {
        "Audio".into()
    }

    /// The microphone's `MediaStream` (as captured, before any effect).
    #[wasm_bindgen(js_name = getMediaStream, unchecked_return_type = "Promise<MediaStream>")]
    pub fn get_media_stream(&self) -> js_sys::Promise {
        let call = self.inner.call.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let track = call
                .upgrade()
                .and_then(|c| c.microphone.borrow().clone())
                .ok_or_else(|| ApiError::new(SubCode::WrongState, "the microphone is not open"))?;
            Ok(web_sys::MediaStream::new_with_tracks(&js_sys::Array::of1(&track))?.into())
        })
    }

    /// The microphone's volume: `level` (0–100), updated about ten times a second.
    #[wasm_bindgen(js_name = getVolume, unchecked_return_type = "Promise<Volume>")]
    pub fn get_volume(&self) -> js_sys::Promise {
        let this = self.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let call = this.call()?;
            call.effects.wanted.set(true);
            let raw = call.microphone.borrow().clone();
            if let Some(raw) = raw {
                MicrophoneEffects::processor(&call, &raw).await?;
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
}

impl LocalAudioStream {
    fn call(&self) -> Result<Rc<CallInner>, ApiError> {
        self.inner
            .call
            .upgrade()
            .ok_or_else(|| ApiError::new(SubCode::WrongState, "the call ended"))
    }
}

struct VolumeInner {
    level: Cell<f32>,
    emitter: Emitter,
    js: JsSelf,
}

/// A microphone's volume (`Volume`).
#[wasm_bindgen]
#[derive(Clone)]
pub struct Volume {
    inner: Rc<VolumeInner>,
}

impl Volume {
    fn new() -> Self {
        Volume {
            inner: Rc::new(VolumeInner {
                level: Cell::new(0.0),
                emitter: Emitter::default(),
                js: JsSelf::default(),
            }),
        }
    }

    fn js(&self) -> JsValue {
        self.inner.js.get(|| self.clone().into())
    }

    fn report(&self, report: Report) {
        self.set_level(report.level);
    }

    fn set_level(&self, level: f32) {
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

struct EffectsInner {
    call: Weak<CallInner>,
    emitter: Emitter,
    js: JsSelf,
}

/// `Features.AudioEffects` of the call's microphone.
#[wasm_bindgen]
#[derive(Clone)]
pub struct AudioEffectsFeature {
    inner: Rc<EffectsInner>,
}

impl AudioEffectsFeature {
    fn new(call: Weak<CallInner>) -> Self {
        AudioEffectsFeature {
            inner: Rc::new(EffectsInner {
                call,
                emitter: Emitter::default(),
                js: JsSelf::default(),
            }),
        }
    }

    fn js(&self) -> JsValue {
        self.inner.js.get(|| self.clone().into())
    }

    fn call(&self) -> Result<Rc<CallInner>, ApiError> {
        self.inner
            .call
            .upgrade()
            .ok_or_else(|| ApiError::new(SubCode::WrongState, "the call ended"))
    }

    async fn start(&self, effects: JsValue) -> Result<JsValue, ApiError> {
        let call = self.call()?;
        let effect = js_sys::Reflect::get(&effects, &"noiseSuppression".into()).unwrap_or_default();
        let name = match effect_name(&effect).as_deref() {
            Some(DEEP) if effects::supported() => DEEP,
            Some(BROWSER) => BROWSER,
            Some(DEEP) => {
                return Err(self.failed(ApiError::new(
                    SubCode::NotSupported,
                    "this browser cannot run rtcall's noise suppression",
                )))
            }
            _ => {
                return Err(self.failed(ApiError::invalid_argument(
                    "startEffects takes {noiseSuppression: DeepNoiseSuppressionEffect | BrowserNoiseSuppressionEffect}",
                )))
            }
        };
        let previous = call.effects.active.borrow_mut().replace(name);
        call.effects
            .wanted
            .set(name == DEEP || call.effects.wanted.get());
        if name == BROWSER || previous == Some(BROWSER) {
            browser_noise_suppression(&call, name == BROWSER)
                .await
                .map_err(|e| self.failed(e))?;
        }
        let raw = call.microphone.borrow().clone();
        if let Some(raw) = &raw {
            if name == DEEP {
                let processor = MicrophoneEffects::processor(&call, raw)
                    .await
                    .map_err(|e| self.failed(e))?;
                processor.set_noise_suppression(true);
            } else if let Some(p) = call.effects.processor.borrow().as_ref() {
                p.set_noise_suppression(false);
            }
        }
        self.applied(call, "effectsStarted", name).await
    }

    async fn stop(&self) -> Result<JsValue, ApiError> {
        let call = self.call()?;
        let Some(name) = call.effects.active.borrow_mut().take() else {
            return Ok(JsValue::UNDEFINED);
        };
        if name == BROWSER {
            browser_noise_suppression(&call, false).await?;
        }
        if let Some(p) = call.effects.processor.borrow().as_ref() {
            p.set_noise_suppression(false);
        }
        self.applied(call, "effectsStopped", name).await
    }

    /// Sends the microphone as the effects now say, then tells the app.
    async fn applied(
        &self,
        call: Rc<CallInner>,
        event: &str,
        name: &str,
    ) -> Result<JsValue, ApiError> {
        Call { inner: call }.send_microphone().await;
        self.inner
            .emitter
            .emit(event, object(&[("noiseSuppression", name.into())]));
        Ok(JsValue::UNDEFINED)
    }

    /// Tells the app (`effectsError`) and hands the error back for the promise.
    fn failed(&self, error: ApiError) -> ApiError {
        self.inner.emitter.emit(
            "effectsError",
            object(&[
                ("code", error.code.into()),
                ("subCode", error.sub_code.into()),
                ("message", error.message.clone().into()),
            ]),
        );
        error
    }
}

#[wasm_bindgen]
impl AudioEffectsFeature {
    /// `'AudioEffects'`.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        "AudioEffects".into()
    }

    /// `{noiseSuppression: name}` while an effect is on, else `{}`.
    #[wasm_bindgen(getter, js_name = activeEffects, unchecked_return_type = "ActiveAudioEffects")]
    pub fn active_effects(&self) -> JsValue {
        match self.call().ok().and_then(|c| *c.effects.active.borrow()) {
            Some(name) => object(&[("noiseSuppression", name.into())]),
            None => object(&[]),
        }
    }

    /// Whether this browser can run `effect`.
    #[wasm_bindgen(js_name = isSupported, unchecked_return_type = "Promise<boolean>")]
    pub fn is_supported(&self, effect: JsValue) -> js_sys::Promise {
        let supported = match effect_name(&effect).as_deref() {
            Some(DEEP) => effects::supported(),
            Some(BROWSER) => browser_supports_noise_suppression(),
            _ => false,
        };
        js_sys::Promise::resolve(&JsValue::from_bool(supported))
    }

    /// Turns on `{noiseSuppression: effect}` (replacing the one on, if any).
    #[wasm_bindgen(js_name = startEffects, unchecked_return_type = "Promise<void>")]
    pub fn start_effects(&self, effects: JsValue) -> js_sys::Promise {
        let this = self.clone();
        wasm_bindgen_futures::future_to_promise(async move { Ok(this.start(effects).await?) })
    }

    /// Turns noise suppression off.
    #[wasm_bindgen(js_name = stopEffects, unchecked_return_type = "Promise<void>")]
    pub fn stop_effects(&self, _effects: JsValue) -> js_sys::Promise {
        let this = self.clone();
        wasm_bindgen_futures::future_to_promise(async move { Ok(this.stop().await?) })
    }
}

emitter_methods!(AudioEffectsFeature, "AudioEffectsFeature");

fn browser_supports_noise_suppression() -> bool {
    web_sys::window()
        .and_then(|w| w.navigator().media_devices().ok())
        .and_then(|m| {
            js_sys::Reflect::get(&m, &"getSupportedConstraints".into())
                .ok()
                .map(|f| (m, f))
        })
        .and_then(|(m, f)| f.dyn_into::<js_sys::Function>().ok()?.call0(&m).ok())
        .and_then(|c| js_sys::Reflect::get(&c, &"noiseSuppression".into()).ok())
        .is_some_and(|v| v.as_bool() == Some(true))
}

/// How often the received volume is sampled (as ACS samples its volume indicator).
const REMOTE_VOLUME_EVERY_MS: u32 = 200;

struct RemoteAudioInner {
    call: Weak<CallInner>,
    volume: Volume,
    sampling: RefCell<Option<gloo_timers::callback::Interval>>,
    js: JsSelf,
}

/// The audio the call receives, all remote participants together (`RemoteAudioStream`).
#[wasm_bindgen]
#[derive(Clone)]
pub struct RemoteAudioStream {
    inner: Rc<RemoteAudioInner>,
}

impl RemoteAudioStream {
    /// The call's one `RemoteAudioStream`.
    pub(crate) fn of(call: &Rc<CallInner>) -> RemoteAudioStream {
        call.remote_audio
            .borrow_mut()
            .get_or_insert_with(|| RemoteAudioStream {
                inner: Rc::new(RemoteAudioInner {
                    call: Rc::downgrade(call),
                    volume: Volume::new(),
                    sampling: RefCell::new(None),
                    js: JsSelf::default(),
                }),
            })
            .clone()
    }

    /// The object's one JS wrapper.
    pub fn js(&self) -> JsValue {
        self.inner.js.get(|| self.clone().into())
    }

    /// The call ended: sampling stops, the objects are let go.
    pub(crate) fn close(&self) {
        self.inner.sampling.borrow_mut().take();
        self.inner.js.release();
        self.inner.volume.inner.js.release();
    }

    /// Reads the loudest received audio line's level from the connection's statistics.
    async fn sample(call: Weak<CallInner>, volume: Volume) {
        let Some(pc) = call
            .upgrade()
            .and_then(|c| c.media.borrow().as_ref().map(|m| m.connection().clone()))
        else {
            return;
        };
        let Ok(stats) = JsFuture::from(pc.get_stats()).await else {
            return;
        };
        let mut loudest = 0.0f64;
        let values = js_sys::Reflect::get(&stats, &"values".into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
            .and_then(|f| f.call0(&stats).ok());
        if let Some(iterator) = values.and_then(|v| js_sys::try_iter(&v).ok().flatten()) {
            for report in iterator.flatten() {
                let field = |name: &str| js_sys::Reflect::get(&report, &name.into()).ok();
                let audio_in = field("type").and_then(|t| t.as_string()).as_deref()
                    == Some("inbound-rtp")
                    && field("kind").and_then(|k| k.as_string()).as_deref() == Some("audio");
                if audio_in {
                    // 0..1, linear in amplitude (1 = full scale).
                    let level = field("audioLevel").and_then(|l| l.as_f64()).unwrap_or(0.0);
                    loudest = loudest.max(level);
                }
            }
        }
        volume.set_level(rtcall_dsp::meter_level(rtcall_dsp::dbfs(loudest as f32)));
    }
}

#[wasm_bindgen]
impl RemoteAudioStream {
    /// `'Audio'`.
    #[wasm_bindgen(getter, js_name = mediaStreamType)]
    pub fn media_stream_type(&self) -> String {
        "Audio".into()
    }

    /// The received volume: `level` (0–100) of the loudest remote audio, sampled every 200 ms.
    #[wasm_bindgen(js_name = getVolume, unchecked_return_type = "Promise<Volume>")]
    pub fn get_volume(&self) -> js_sys::Promise {
        if self.inner.sampling.borrow().is_none() && self.inner.call.upgrade().is_some() {
            let (call, volume) = (self.inner.call.clone(), self.inner.volume.clone());
            let interval =
                gloo_timers::callback::Interval::new(REMOTE_VOLUME_EVERY_MS, move || {
                    wasm_bindgen_futures::spawn_local(Self::sample(call.clone(), volume.clone()));
                });
            *self.inner.sampling.borrow_mut() = Some(interval);
        }
        js_sys::Promise::resolve(&self.inner.volume.js())
    }
}
