//! `Features.AudioEffects` of a `LocalAudioStream`: noise suppression, rtcall's own
//! (`DeepNoiseSuppressionEffect`, the DSP worklet) or the browser's
//! (`BrowserNoiseSuppressionEffect`, the microphone reopened with the constraint). Effects work
//! on what a call sends; turning one on or off swaps the track in place.

use super::error::{ApiError, SubCode};
use super::events::{emitter_methods, object, Emitter};
use super::local_media::{AudioSlot, LocalMedia, DEEP};
use super::object::JsSelf;
use crate::api::promise::promise;
use crate::media::effects;
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;

const BROWSER: &str = "BrowserNoiseSuppression";

/// Reopens the call's microphone with the browser's noise suppression on or off, and sends
/// the new track.
async fn browser_noise_suppression(media: &Rc<LocalMedia>, on: bool) -> Result<(), ApiError> {
    if media.sends_custom() {
        return Err(ApiError::new(
            SubCode::NotSupported,
            "the browser's noise suppression works on a microphone; this call sends custom audio",
        ));
    }
    media.browser_suppression.set(Some(on));
    if media.microphone.borrow().is_none() {
        return Ok(());
    }
    media.open().await
}

fn effect_name(effect: &JsValue) -> Option<String> {
    js_sys::Reflect::get(effect, &"name".into())
        .ok()
        .and_then(|n| n.as_string())
}

pub(super) struct EffectsInner {
    stream: Weak<AudioSlot>,
    emitter: Emitter,
    js: JsSelf,
}

/// `Features.AudioEffects` of the call's microphone.
#[wasm_bindgen]
#[derive(Clone)]
pub struct AudioEffectsFeature {
    pub(super) inner: Rc<EffectsInner>,
}

impl AudioEffectsFeature {
    pub(super) fn new(stream: Weak<AudioSlot>) -> Self {
        AudioEffectsFeature {
            inner: Rc::new(EffectsInner {
                stream,
                emitter: Emitter::default(),
                js: JsSelf::default(),
            }),
        }
    }

    pub(super) fn js(&self) -> JsValue {
        self.inner.js.get(|| self.clone().into())
    }

    /// Lets the JS wrapper go.
    pub(super) fn release(&self) {
        self.inner.js.release();
    }

    /// The live call of the stream: effects work on what a call sends.
    fn call(&self) -> Result<Rc<LocalMedia>, ApiError> {
        self.inner
            .stream
            .upgrade()
            .ok_or_else(|| ApiError::new(SubCode::WrongState, "the stream is gone"))?
            .call()
            .ok_or_else(|| ApiError::new(SubCode::WrongState, "this stream is not in a call"))
    }

    async fn start(&self, effects: JsValue) -> Result<JsValue, ApiError> {
        let call = self.call().map_err(|e| self.failed(e))?;
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
        let previous = call.active.borrow_mut().replace(name);
        call.wanted.set(name == DEEP || call.wanted.get());
        if name == BROWSER || previous == Some(BROWSER) {
            browser_noise_suppression(&call, name == BROWSER)
                .await
                .map_err(|e| self.failed(e))?;
        }
        let raw = call.microphone.borrow().clone();
        if let Some(raw) = &raw {
            if name == DEEP {
                let processor = call.processor(raw).await.map_err(|e| self.failed(e))?;
                processor.set_noise_suppression(true);
            } else if let Some(p) = call.processor.borrow().as_ref() {
                p.set_noise_suppression(false);
            }
        }
        self.applied(call, "effectsStarted", name).await
    }

    async fn stop(&self) -> Result<JsValue, ApiError> {
        let call = self.call()?;
        let Some(name) = call.active.borrow_mut().take() else {
            return Ok(JsValue::UNDEFINED);
        };
        if name == BROWSER {
            browser_noise_suppression(&call, false).await?;
        }
        if let Some(p) = call.processor.borrow().as_ref() {
            p.set_noise_suppression(false);
        }
        self.applied(call, "effectsStopped", name).await
    }

    /// Sends the microphone as the effects now say, then tells the app.
    async fn applied(
        &self,
        call: Rc<LocalMedia>,
        event: &str,
        name: &str,
    ) -> Result<JsValue, ApiError> {
        call.send_microphone().await;
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
        match self.call().ok().and_then(|c| *c.active.borrow()) {
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
        promise(async move { this.start(effects).await })
    }

    /// Turns noise suppression off.
    #[wasm_bindgen(js_name = stopEffects, unchecked_return_type = "Promise<void>")]
    pub fn stop_effects(&self, _effects: JsValue) -> js_sys::Promise {
        let this = self.clone();
        promise(async move { this.stop().await })
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
