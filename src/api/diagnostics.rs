//! `Features.UserFacingDiagnostics` of a call: `media` (`speakingWhileMicrophoneIsMuted`, from
//! the microphone's voice activity in the DSP worklet), `network` (`networkReconnect`,
//! `networkReceiveQuality`, `networkSendQuality`, `noNetwork`, from the call's network watch)
//! and `remote` (other participants' `networkReconnect`, from the service).

use super::events::{array, emitter_methods, object, Emitter};
use super::object::JsSelf;
use super::participant::RemoteParticipant;
use crate::engine::network::Quality;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

/// A diagnostic's value: a flag, or a `DiagnosticQuality` (`Good = 1`, `Poor = 2`, `Bad = 3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Value {
    Flag(bool),
    Quality(Quality),
}

impl Value {
    /// Whether it is the value of a diagnostic not raised (nothing to clear then).
    fn is_clear(self) -> bool {
        matches!(self, Value::Flag(false) | Value::Quality(Quality::Good))
    }

    /// `value` and `valueType`, as ACS gives them.
    fn fields(self) -> [(&'static str, JsValue); 2] {
        match self {
            Value::Flag(on) => [("value", on.into()), ("valueType", "DiagnosticFlag".into())],
            Value::Quality(q) => [
                ("value", (q as u8).into()),
                ("valueType", "DiagnosticQuality".into()),
            ],
        }
    }
}

struct DiagnosticsInner {
    latest: RefCell<Vec<(&'static str, Value)>>,
    emitter: Emitter,
    js: JsSelf,
}

/// One group of user-facing diagnostics (`media` or `network`): values that are raised and
/// cleared, each change a `diagnosticChanged` event.
#[wasm_bindgen]
#[derive(Clone)]
pub struct Diagnostics {
    inner: Rc<DiagnosticsInner>,
}

impl Diagnostics {
    fn new() -> Self {
        Diagnostics {
            inner: Rc::new(DiagnosticsInner {
                latest: RefCell::default(),
                emitter: Emitter::default(),
                js: JsSelf::default(),
            }),
        }
    }

    fn js(&self) -> JsValue {
        self.inner.js.get(|| self.clone().into())
    }

    /// Sets a diagnostic; tells the app if that changes it.
    pub(crate) fn set(&self, diagnostic: &'static str, value: Value) {
        let mut latest = self.inner.latest.borrow_mut();
        match latest.iter_mut().find(|(name, _)| *name == diagnostic) {
            Some((_, old)) if *old == value => return,
            Some((_, old)) => *old = value,
            // Never raised: nothing to clear.
            None if value.is_clear() => return,
            None => latest.push((diagnostic, value)),
        }
        drop(latest);
        let [v, t] = value.fields();
        self.inner.emitter.emit(
            "diagnosticChanged",
            object(&[("diagnostic", diagnostic.into()), v, t]),
        );
    }
}

#[wasm_bindgen]
impl Diagnostics {
    /// Each diagnostic seen so far: `{name: {value, valueType}}`.
    #[wasm_bindgen(js_name = getLatest)]
    pub fn get_latest(&self) -> JsValue {
        let latest = js_sys::Object::new();
        for (name, value) in self.inner.latest.borrow().iter() {
            let _ = js_sys::Reflect::set(&latest, &(*name).into(), &object(&value.fields()));
        }
        latest.into()
    }
}

emitter_methods!(Diagnostics, "Diagnostics");

struct RemoteInner {
    /// Participants reconnecting now, or back since they were.
    latest: RefCell<Vec<(RemoteParticipant, Quality)>>,
    emitter: Emitter,
    js: JsSelf,
}

/// Other participants' diagnostics (`RemoteDiagnostics`): today their `networkReconnect`, as
/// the service sees their connections.
#[wasm_bindgen]
#[derive(Clone)]
pub struct RemoteDiagnostics {
    inner: Rc<RemoteInner>,
}

/// A `RemoteDiagnostic`.
fn remote_diagnostic(participant: &RemoteParticipant, quality: Quality) -> JsValue {
    let id = participant
        .id()
        .map_or(String::new(), |id| id.0.to_string());
    let [v, t] = Value::Quality(quality).fields();
    object(&[
        ("diagnostic", "networkReconnect".into()),
        ("participantId", id.into()),
        ("rawId", participant.identity().into()),
        ("remoteParticipant", participant.js()),
        v,
        t,
    ])
}

impl RemoteDiagnostics {
    fn new() -> Self {
        RemoteDiagnostics {
            inner: Rc::new(RemoteInner {
                latest: RefCell::default(),
                emitter: Emitter::default(),
                js: JsSelf::default(),
            }),
        }
    }

    fn js(&self) -> JsValue {
        self.inner.js.get(|| self.clone().into())
    }

    /// The participant is reconnecting (`true`) or back.
    pub(crate) fn set_reconnecting(&self, participant: &RemoteParticipant, reconnecting: bool) {
        let quality = if reconnecting {
            Quality::Bad
        } else {
            Quality::Good
        };
        {
            let mut latest = self.inner.latest.borrow_mut();
            let known = latest
                .iter_mut()
                .find(|(p, _)| p.identity() == participant.identity());
            match known {
                Some((_, old)) if *old == quality => return,
                Some((p, old)) => {
                    *p = participant.clone();
                    *old = quality;
                }
                None if !reconnecting => return,
                None => latest.push((participant.clone(), quality)),
            }
        }
        let changed = array([remote_diagnostic(participant, quality)]);
        self.inner
            .emitter
            .emit("diagnosticChanged", object(&[("diagnostics", changed)]));
    }
}

#[wasm_bindgen]
impl RemoteDiagnostics {
    /// `{diagnostics: RemoteDiagnostic[]}`: the latest of each participant's.
    #[wasm_bindgen(js_name = getLatest)]
    pub fn get_latest(&self) -> JsValue {
        let all = self
            .inner
            .latest
            .borrow()
            .iter()
            .map(|(p, q)| remote_diagnostic(p, *q))
            .collect::<Vec<_>>();
        object(&[("diagnostics", array(all))])
    }
}

emitter_methods!(RemoteDiagnostics, "RemoteDiagnostics");

struct UserFacingInner {
    media: Diagnostics,
    network: Diagnostics,
    remote: RemoteDiagnostics,
    js: JsSelf,
}

/// `Features.UserFacingDiagnostics` of a call. See the module docs.
#[wasm_bindgen]
#[derive(Clone)]
pub struct UserFacingDiagnosticsFeature {
    inner: Rc<UserFacingInner>,
}

impl UserFacingDiagnosticsFeature {
    pub(crate) fn new() -> Self {
        UserFacingDiagnosticsFeature {
            inner: Rc::new(UserFacingInner {
                media: Diagnostics::new(),
                network: Diagnostics::new(),
                remote: RemoteDiagnostics::new(),
                js: JsSelf::default(),
            }),
        }
    }

    /// The object's one JS wrapper.
    pub fn js(&self) -> JsValue {
        self.inner.js.get(|| self.clone().into())
    }

    /// The media diagnostics.
    pub(crate) fn media_group(&self) -> &Diagnostics {
        &self.inner.media
    }

    /// The network diagnostics.
    pub(crate) fn network_group(&self) -> &Diagnostics {
        &self.inner.network
    }

    /// The other participants' diagnostics.
    pub(crate) fn remote_group(&self) -> &RemoteDiagnostics {
        &self.inner.remote
    }
}

#[wasm_bindgen]
impl UserFacingDiagnosticsFeature {
    /// `'UserFacingDiagnostics'`.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        "UserFacingDiagnostics".into()
    }

    /// The media diagnostics.
    #[wasm_bindgen(getter, unchecked_return_type = "MediaDiagnostics")]
    pub fn media(&self) -> JsValue {
        self.inner.media.js()
    }

    /// The network diagnostics.
    #[wasm_bindgen(getter, unchecked_return_type = "NetworkDiagnostics")]
    pub fn network(&self) -> JsValue {
        self.inner.network.js()
    }

    /// The other participants' diagnostics.
    #[wasm_bindgen(getter, unchecked_return_type = "RemoteDiagnostics")]
    pub fn remote(&self) -> JsValue {
        self.inner.remote.js()
    }
}
