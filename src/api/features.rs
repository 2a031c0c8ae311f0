//! Call features reached with `call.feature(Features.X)`: `DominantSpeakers` (the ranked list
//! of recent speakers, from the SFU).

use super::events::{array, emitter_methods, object, Emitter};
use super::identifier::identifier_to_js;
use super::object::JsSelf;
use rtcall_protocol::CommunicationIdentifier;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::prelude::*;

struct DominantInner {
    speakers: RefCell<Vec<String>>,
    timestamp: Cell<f64>,
    emitter: Emitter,
    js: JsSelf,
}

/// `Features.DominantSpeakers` of a call.
#[wasm_bindgen]
#[derive(Clone)]
pub struct DominantSpeakersFeature {
    inner: Rc<DominantInner>,
}

impl DominantSpeakersFeature {
    pub(crate) fn new() -> Self {
        DominantSpeakersFeature {
            inner: Rc::new(DominantInner {
                speakers: RefCell::default(),
                timestamp: Cell::new(js_sys::Date::now()),
                emitter: Emitter::default(),
                js: JsSelf::default(),
            }),
        }
    }

    fn emitter(&self) -> &Emitter {
        &self.inner.emitter
    }

    /// The object's one JS wrapper.
    pub fn js(&self) -> JsValue {
        self.inner.js.get(|| self.clone().into())
    }

    /// New ranking (raw ids, most dominant first).
    pub(crate) fn update(&self, speakers: Vec<String>) {
        *self.inner.speakers.borrow_mut() = speakers;
        self.inner.timestamp.set(js_sys::Date::now());
        self.inner.emitter.changed("dominantSpeakersChanged");
    }

    /// The ranked raw ids.
    pub fn speakers(&self) -> Vec<String> {
        self.inner.speakers.borrow().clone()
    }
}

#[wasm_bindgen]
impl DominantSpeakersFeature {
    /// `'DominantSpeakers'`.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        "DominantSpeakers".into()
    }

    /// `{speakersList, timestamp}`: identifiers, most dominant first, and when it changed.
    #[wasm_bindgen(getter, js_name = dominantSpeakers, unchecked_return_type = "DominantSpeakersInfo")]
    pub fn dominant_speakers(&self) -> JsValue {
        let list = array(
            self.inner
                .speakers
                .borrow()
                .iter()
                .map(|raw| identifier_to_js(&CommunicationIdentifier::from_raw_id(raw))),
        );
        let timestamp = js_sys::Date::new(&self.inner.timestamp.get().into());
        object(&[("speakersList", list), ("timestamp", timestamp.into())])
    }
}

emitter_methods!(DominantSpeakersFeature, "DominantSpeakersFeature");
