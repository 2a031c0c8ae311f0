//! Events as the ACS SDK fires them: `on(name, listener)` / `off(name, listener)` on every
//! object, property events with no payload and collection events with `{added, removed}`.
//!
//! Listeners never run while Rust holds a borrow: [`Emitter::emit`] queues the call and a
//! microtask dispatches the queue once control is back in JavaScript, in order. A listener that
//! throws is logged and does not stop the others.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use wasm_bindgen::prelude::*;

thread_local! {
    static QUEUE: RefCell<VecDeque<(js_sys::Function, JsValue)>> = RefCell::default();
    static SCHEDULED: Cell<bool> = const { Cell::new(false) };
    /// The one closure that dispatches, made once and kept for the page's life.
    static DISPATCHER: Closure<dyn FnMut(JsValue)> = Closure::new(|_| dispatch());
}

/// The listeners of one object.
#[derive(Default)]
pub struct Emitter {
    listeners: RefCell<Vec<(String, js_sys::Function)>>,
}

impl std::fmt::Debug for Emitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emitter")
            .field("listeners", &self.listeners.borrow().len())
            .finish()
    }
}

impl Emitter {
    /// Adds a listener (once: adding the same function twice for one event has no effect).
    pub fn on(&self, event: &str, listener: js_sys::Function) {
        let mut listeners = self.listeners.borrow_mut();
        if !listeners.iter().any(|(e, l)| e == event && *l == listener) {
            listeners.push((event.to_owned(), listener));
        }
    }

    /// Removes a listener.
    pub fn off(&self, event: &str, listener: &js_sys::Function) {
        self.listeners
            .borrow_mut()
            .retain(|(e, l)| !(e == event && l == listener));
    }

    /// Queues `event` with `payload` (undefined for property events) for every listener.
    pub fn emit(&self, event: &str, payload: JsValue) {
        let listeners: Vec<js_sys::Function> = self
            .listeners
            .borrow()
            .iter()
            .filter(|(e, _)| e == event)
            .map(|(_, l)| l.clone())
            .collect();
        if listeners.is_empty() {
            return;
        }
        QUEUE.with(|q| {
            let mut q = q.borrow_mut();
            for listener in listeners {
                q.push_back((listener, payload.clone()));
            }
        });
        schedule();
    }

    /// Fires a property event (`xxxChanged`, no payload).
    pub fn changed(&self, event: &str) {
        self.emit(event, JsValue::UNDEFINED);
    }

    /// Fires a collection event (`xxxUpdated`, `{added, removed}`), unless both are empty.
    pub fn updated(&self, event: &str, added: Vec<JsValue>, removed: Vec<JsValue>) {
        if added.is_empty() && removed.is_empty() {
            return;
        }
        let payload = object(&[
            ("added", added.into_iter().collect::<js_sys::Array>().into()),
            (
                "removed",
                removed.into_iter().collect::<js_sys::Array>().into(),
            ),
        ]);
        self.emit(event, payload);
    }
}

/// Dispatches the queue in a microtask, once per batch.
fn schedule() {
    if SCHEDULED.with(|s| s.replace(true)) {
        return;
    }
    DISPATCHER.with(|d| {
        let _ = js_sys::Promise::resolve(&JsValue::UNDEFINED).then(d);
    });
}

fn dispatch() {
    SCHEDULED.with(|s| s.set(false));
    while let Some((listener, payload)) = QUEUE.with(|q| q.borrow_mut().pop_front()) {
        if let Err(error) = listener.call1(&JsValue::UNDEFINED, &payload) {
            web_sys::console::error_2(&"rtcall: an event listener threw".into(), &error);
        }
    }
}

/// A plain object from name/value pairs; an undefined value leaves its property out, as JSON
/// would.
pub fn object(fields: &[(&str, JsValue)]) -> JsValue {
    let object = js_sys::Object::new();
    for (name, value) in fields.iter().filter(|(_, v)| !v.is_undefined()) {
        // Defining a property on a fresh plain object cannot fail.
        let _ = js_sys::Reflect::set(&object, &(*name).into(), value);
    }
    object.into()
}

/// A JavaScript array of values.
pub fn array(values: impl IntoIterator<Item = JsValue>) -> JsValue {
    values.into_iter().collect::<js_sys::Array>().into()
}

/// Implements `on` and `off` on an exported class whose state (`inner`) has an `emitter`.
macro_rules! emitter_methods {
    ($rust:ident, $js:literal) => {
        #[wasm_bindgen::prelude::wasm_bindgen(js_class = $js)]
        impl $rust {
            /// Subscribes `listener` to `event`.
            #[wasm_bindgen(skip_typescript)]
            pub fn on(&self, event: &str, listener: js_sys::Function) {
                self.inner.emitter.on(event, listener);
            }

            /// Unsubscribes `listener` from `event`.
            #[wasm_bindgen(skip_typescript)]
            pub fn off(&self, event: &str, listener: js_sys::Function) {
                self.inner.emitter.off(event, &listener);
            }
        }
    };
}
pub(crate) use emitter_methods;
