//! Call features reached with `call.feature(Features.X)`: `DominantSpeakers` (the ranked list
//! of recent speakers, from the SFU) and rtcall's `EchoTest` (what the `8:echo123` bot saw of
//! the caller's media). `UserFacingDiagnostics` has a module of its own, `diagnostics`.

use super::events::{array, emitter_methods, object, Emitter};
use super::identifier::identifier_to_js;
use super::object::JsSelf;
use rtcall_protocol::signal::EchoReport;
use rtcall_protocol::CommunicationIdentifier;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::prelude::*;

/// The name a feature factory stands for (`Features.X`, or the name itself as a string).
pub(crate) fn factory_name(factory: &JsValue) -> String {
    js_sys::Reflect::get(factory, &"name".into())
        .ok()
        .and_then(|n| n.as_string())
        .or_else(|| factory.as_string())
        .unwrap_or_default()
}

/// The one object of a lazily made feature.
pub(crate) fn one<T: Clone>(slot: &RefCell<Option<T>>, make: impl FnOnce() -> T) -> T {
    slot.borrow_mut().get_or_insert_with(make).clone()
}

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

struct EchoTestInner {
    report: RefCell<Option<EchoReport>>,
    emitter: Emitter,
    js: JsSelf,
}

/// `Features.EchoTest` of a call to `8:echo123` (rtcall; ACS has no equivalent): the bot's
/// report, updated about every second, so an app can tell the user whether their microphone
/// and camera reach the service and how the network is.
#[wasm_bindgen]
#[derive(Clone)]
pub struct EchoTestFeature {
    inner: Rc<EchoTestInner>,
}

impl EchoTestFeature {
    pub(crate) fn new() -> Self {
        EchoTestFeature {
            inner: Rc::new(EchoTestInner {
                report: RefCell::default(),
                emitter: Emitter::default(),
                js: JsSelf::default(),
            }),
        }
    }

    /// The object's one JS wrapper.
    pub fn js(&self) -> JsValue {
        self.inner.js.get(|| self.clone().into())
    }

    /// A new report from the bot.
    pub(crate) fn update(&self, report: EchoReport) {
        let changed = self.inner.report.borrow().as_ref() != Some(&report);
        *self.inner.report.borrow_mut() = Some(report);
        if changed {
            self.inner.emitter.changed("reportChanged");
        }
    }
}

fn optional(value: Option<f64>) -> JsValue {
    value.map_or(JsValue::UNDEFINED, JsValue::from)
}

#[wasm_bindgen]
impl EchoTestFeature {
    /// `'EchoTest'`.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        "EchoTest".into()
    }

    /// The latest report, or undefined before the first: `{phase: 'prompt'|'recording'|
    /// 'playback', audioReceived, videoReceived, roundTripTimeMs?, packetLossPercent?,
    /// jitterMs?}`.
    #[wasm_bindgen(getter, unchecked_return_type = "EchoTestReport | undefined")]
    pub fn report(&self) -> JsValue {
        let report = self.inner.report.borrow();
        let Some(r) = report.as_ref() else {
            return JsValue::UNDEFINED;
        };
        object(&[
            ("phase", r.phase.as_str().into()),
            ("audioReceived", r.audio_received.into()),
            ("videoReceived", r.video_received.into()),
            ("roundTripTimeMs", optional(r.round_trip_ms)),
            ("packetLossPercent", optional(r.packet_loss_percent)),
            ("jitterMs", optional(r.jitter_ms)),
        ])
    }
}

emitter_methods!(EchoTestFeature, "EchoTestFeature");
