//! One adapter from Rust futures to JavaScript promises, for every exported method that returns
//! one: each future is boxed, so the code that drives it and settles its `Promise` exists once
//! in the module rather than once per method.

use super::error::ApiError;
use std::future::Future;
use std::pin::Pin;
use wasm_bindgen::JsValue;

type Boxed = Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>>;

/// What a promise resolves with: a value, or nothing (`undefined`).
pub(crate) trait Resolution {
    fn into_js(self) -> JsValue;
}

impl Resolution for JsValue {
    fn into_js(self) -> JsValue {
        self
    }
}

impl Resolution for () {
    fn into_js(self) -> JsValue {
        JsValue::UNDEFINED
    }
}

/// A promise of `future`'s outcome; it rejects with the error as a
/// `CommunicationServicesError`.
pub(crate) fn promise<T: Resolution>(
    future: impl Future<Output = Result<T, ApiError>> + 'static,
) -> js_sys::Promise {
    settle(Box::pin(async move {
        future.await.map(Resolution::into_js).map_err(Into::into)
    }))
}

fn settle(future: Boxed) -> js_sys::Promise {
    wasm_bindgen_futures::future_to_promise(future)
}
