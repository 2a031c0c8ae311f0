//! `Volume`: a sound's level as ACS shows it (0–100, `levelChanged`), for what a call sends
//! (a `LocalAudioStream`'s) and what it receives (its `RemoteAudioStream`'s).

use super::events::{emitter_methods, Emitter};
use super::object::JsSelf;
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

pub(crate) struct VolumeInner {
    level: Cell<f32>,
    emitter: Emitter,
    js: JsSelf,
}

/// A sound's volume (`Volume`).
#[wasm_bindgen]
#[derive(Clone)]
pub struct Volume {
    inner: Rc<VolumeInner>,
}

impl Volume {
    /// Silence.
    pub(crate) fn new() -> Self {
        Volume {
            inner: Rc::new(VolumeInner {
                level: Cell::new(0.0),
                emitter: Emitter::default(),
                js: JsSelf::default(),
            }),
        }
    }

    /// The object's one JS wrapper.
    pub(crate) fn js(&self) -> JsValue {
        self.inner.js.get(|| self.clone().into())
    }

    /// Lets the JS wrapper go.
    pub(crate) fn release(&self) {
        self.inner.js.release();
    }

    /// A new level (0–100), rounded; `levelChanged` if it changed.
    pub(crate) fn set_level(&self, level: f32) {
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
