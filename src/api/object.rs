//! Object identity across the JavaScript boundary. wasm-bindgen makes a new JS wrapper each
//! time a Rust object is returned; ACS apps compare objects (`call === agent.calls[0]`), so each
//! exported object makes its wrapper once ([`JsSelf`]) and hands out that one. Objects apps
//! pass back in (streams given to `startVideo` or `new VideoStreamRenderer`) are found again by
//! a key ([`StreamKey`]).

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// An object's one JS wrapper, made on first use. It holds the Rust object alive (and the Rust
/// object holds it), so [`JsSelf::release`] must run when the object's life ends.
#[derive(Default)]
pub struct JsSelf(RefCell<Option<JsValue>>);

impl std::fmt::Debug for JsSelf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JsSelf")
    }
}

impl JsSelf {
    /// The wrapper, made with `make` the first time.
    pub fn get(&self, make: impl FnOnce() -> JsValue) -> JsValue {
        self.0.borrow_mut().get_or_insert_with(make).clone()
    }

    /// Lets the wrapper (and so the Rust object) be collected once JS drops it.
    pub fn release(&self) {
        self.0.borrow_mut().take();
    }
}

/// The key of a stream object, found again when an app passes it back.
pub type StreamKey = u32;

thread_local! {
    static NEXT_KEY: Cell<StreamKey> = const { Cell::new(1) };
    static STREAMS: RefCell<HashMap<StreamKey, Weak<dyn Any>>> = RefCell::default();
}

/// Registers a stream object's state; returns its key.
pub fn register(stream: Weak<dyn Any>) -> StreamKey {
    let key = NEXT_KEY.with(|k| {
        let key = k.get();
        k.set(key.wrapping_add(1));
        key
    });
    STREAMS.with(|s| s.borrow_mut().insert(key, stream));
    key
}

/// Forgets a stream object.
pub fn unregister(key: StreamKey) {
    STREAMS.with(|s| s.borrow_mut().remove(&key));
}

/// The state of type `T` behind a JS value an app passed in, if it is one of ours.
pub fn stream_of<T: Any>(value: &JsValue) -> Option<Rc<T>> {
    let method = js_sys::Reflect::get(value, &"__rtcallKey".into()).ok()?;
    let key = method
        .dyn_ref::<js_sys::Function>()?
        .call0(value)
        .ok()?
        .as_f64()? as StreamKey;
    let stream = STREAMS.with(|s| s.borrow().get(&key).cloned())?;
    stream.upgrade()?.downcast().ok()
}
