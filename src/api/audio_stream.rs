//! `LocalAudioStream`: audio to send, as ACS shows it. `call.localAudioStreams[0]` is its
//! microphone, or an app's own audio (`call.startAudio(new LocalAudioStream(mediaStream))`). A
//! stream has `getVolume()` (a `Volume` whose `level` follows the sound, 0–100) and
//! `feature(Features.AudioEffects)` (see `audio_effects`); switching the source swaps the
//! track on the call's audio line in place: no renegotiation, no gap. Its state is an
//! [`AudioSlot`] it shares with the call it belongs to.

use super::audio_effects::AudioEffectsFeature;
use super::error::{ApiError, SubCode};
use super::features::factory_name;
use super::local_media::{AudioSlot, AudioSource};
use super::object::{register, stream_of, unregister, JsSelf, StreamKey};
use crate::api::promise::promise;
use crate::media::devices;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

/// A local audio stream's object state.
pub(crate) struct StreamInner {
    key: StreamKey,
    pub(crate) slot: Rc<AudioSlot>,
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
    pub(crate) inner: Rc<StreamInner>,
}

impl LocalAudioStream {
    /// A stream of `source`, in no call.
    pub(crate) fn with_source(source: AudioSource) -> Self {
        let slot = AudioSlot::new(source);
        LocalAudioStream {
            inner: Rc::new_cyclic(|weak: &std::rc::Weak<StreamInner>| StreamInner {
                key: register(weak.clone()),
                effects: AudioEffectsFeature::new(Rc::downgrade(&slot)),
                slot,
                js: JsSelf::default(),
            }),
        }
    }

    /// The stream an app passed in, if it is a `LocalAudioStream` of ours.
    pub(crate) fn from_js(value: &JsValue) -> Option<Self> {
        stream_of::<StreamInner>(value).map(|inner| LocalAudioStream { inner })
    }

    /// The object's one JS wrapper.
    pub fn js(&self) -> JsValue {
        self.inner.js.get(|| self.clone().into())
    }

    /// Records `js`, the app's own object for this stream, as the one to hand back.
    pub(crate) fn js_from_app(&self, js: &JsValue) {
        self.inner.js.get(|| js.clone());
    }

    /// Lets its JS objects go (its call ended).
    pub(crate) fn release(&self) {
        self.inner.js.release();
        self.inner.slot.volume.release();
        self.inner.effects.release();
    }

    /// Whether it carries an app's audio rather than a microphone.
    pub(crate) fn is_custom(&self) -> bool {
        self.inner.slot.is_custom()
    }

    /// Fails if a live call already has this stream (a stream goes to one call at a time).
    pub(crate) fn check_free(&self) -> Result<(), ApiError> {
        match self.inner.slot.call() {
            Some(_) => Err(ApiError::new(
                SubCode::WrongState,
                "this LocalAudioStream is already in a call",
            )),
            None => Ok(()),
        }
    }

    /// Uses `source` from now on; a call sending this stream switches to it in place.
    async fn switch_to(&self, source: JsValue) -> Result<(), ApiError> {
        let source = AudioSource::from_js(source)?;
        let slot = &self.inner.slot;
        let call = slot.sending_call();
        let custom = matches!(source, AudioSource::Custom(_));
        if call.is_some() && custom != slot.is_custom() {
            return Err(ApiError::new(
                SubCode::WrongState,
                "a call changes between its microphone and custom audio with startAudio and stopAudio",
            ));
        }
        *slot.source.borrow_mut() = source;
        match call {
            Some(call) => call.open().await,
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
        let slot = &self.inner.slot;
        match &*slot.source.borrow() {
            AudioSource::Microphone(Some((_, info))) => info.clone(),
            AudioSource::Microphone(None) => slot
                .call()
                .map_or(JsValue::UNDEFINED, |c| c.selected_microphone()),
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
        promise(async move {
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
        promise(async move {
            let source = this.inner.slot.source.borrow().clone();
            let device = match source {
                AudioSource::Custom(stream) => return Ok(JsValue::from(stream)),
                AudioSource::Microphone(device) => device.map(|(id, _)| id),
            };
            let sent = this
                .inner
                .slot
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
            Ok(JsValue::from(web_sys::MediaStream::new_with_tracks(
                &js_sys::Array::of1(&track),
            )?))
        })
    }

    /// Its volume: `level` (0–100), updated about ten times a second: measured in the call
    /// that sends it, or before (a pre-call meter) on its own.
    #[wasm_bindgen(js_name = getVolume, unchecked_return_type = "Promise<Volume>")]
    pub fn get_volume(&self) -> js_sys::Promise {
        let this = self.clone();
        promise(async move {
            if let Some(call) = this.inner.slot.sending_call() {
                call.wanted.set(true);
                let raw = call.microphone.borrow().clone();
                if let Some(raw) = raw {
                    call.processor(&raw).await?;
                }
            } else if this.inner.slot.call().is_none() {
                this.inner.slot.meter().await?;
            }
            Ok(this.inner.slot.volume.js())
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
