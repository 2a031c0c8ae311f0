//! `RemoteAudioStream`: the audio a call receives, all remote participants together, with
//! `getVolume()` from the browser's receive statistics.

use super::local_media::LocalMedia;
use super::object::JsSelf;
use super::volume::Volume;
use crate::media::stats::reports;
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;

/// How often the received volume is sampled (as ACS samples its volume indicator).
const REMOTE_VOLUME_EVERY_MS: u32 = 200;

struct RemoteAudioInner {
    call: Weak<LocalMedia>,
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
    /// What the call of `media` receives.
    pub(crate) fn new(media: &Rc<LocalMedia>) -> RemoteAudioStream {
        RemoteAudioStream {
            inner: Rc::new(RemoteAudioInner {
                call: Rc::downgrade(media),
                volume: Volume::new(),
                sampling: RefCell::new(None),
                js: JsSelf::default(),
            }),
        }
    }

    /// The object's one JS wrapper.
    pub fn js(&self) -> JsValue {
        self.inner.js.get(|| self.clone().into())
    }

    /// The call ended: sampling stops, the objects are let go.
    pub(crate) fn close(&self) {
        self.inner.sampling.borrow_mut().take();
        self.inner.js.release();
        self.inner.volume.release();
    }

    /// Reads the loudest received audio line's level from the connection's statistics.
    async fn sample(call: Weak<LocalMedia>, volume: Volume) {
        let Some(pc) = call
            .upgrade()
            .and_then(|c| c.peer.borrow().as_ref().map(|m| m.connection().clone()))
        else {
            return;
        };
        // 0..1, linear in amplitude (1 = full scale).
        let loudest = reports(&pc)
            .await
            .iter()
            .filter(|r| r.is("inbound-rtp", Some("audio")))
            .filter_map(|r| r.number("audioLevel"))
            .fold(0.0f64, f64::max);
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
