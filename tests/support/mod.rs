//! Helpers for browser tests that use the library through its JavaScript surface, as an app
//! would: property reads, method calls (awaiting promises), and listeners that count.
#![allow(dead_code)] // each test file uses some of them

use rtcall::api::CallClient;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// `object[name]`.
pub fn get(object: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(object, &name.into()).unwrap()
}

/// Calls `object.name(...args)` and awaits the result if it is a promise.
pub async fn call(object: &JsValue, name: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let f: js_sys::Function = get(object, name).dyn_into().expect("a method");
    let result = f.apply(object, &args.iter().collect::<js_sys::Array>())?;
    match result.dyn_into::<js_sys::Promise>() {
        Ok(promise) => JsFuture::from(promise).await,
        Err(value) => Ok(value),
    }
}

/// A listener that counts its calls: (function, counter).
pub fn counter() -> (js_sys::Function, JsValue) {
    let count = js_sys::Object::new();
    js_sys::Reflect::set(&count, &"n".into(), &0.into()).unwrap();
    let f = js_sys::Function::new_with_args("", "this.n += 1").bind0(&count);
    (f, count.into())
}

/// How many times a [`counter`] was called.
pub fn count(counter: &JsValue) -> f64 {
    get(counter, "n").as_f64().unwrap()
}

/// Lets timers and microtasks run for `ms`.
pub async fn settle(ms: u32) {
    gloo_timers::future::TimeoutFuture::new(ms).await;
}

/// A fresh client's device manager.
pub async fn device_manager() -> JsValue {
    let client = CallClient::new(JsValue::UNDEFINED).unwrap();
    JsFuture::from(client.get_device_manager()).await.unwrap()
}

/// A JS array's items.
pub fn array(value: JsValue) -> Vec<JsValue> {
    js_sys::Array::from(&value).to_vec()
}

/// How many devices of `kind` (`videoinput`, `audioinput`, `audiooutput`) the browser itself
/// lists: Chromium's fake devices are three of each, Firefox's one camera and one microphone
/// and no speakers, so tests expect what the engine has rather than a number. Each device counts
/// once: Chromium may list its default again as "default" (the same group as the device it
/// stands for; with its fake devices recent versions have a "default" of its own), and Windows
/// a "communications" one.
pub async fn browser_devices(kind: &str) -> usize {
    let media = web_sys::window()
        .unwrap()
        .navigator()
        .media_devices()
        .unwrap();
    let list = JsFuture::from(media.enumerate_devices().unwrap())
        .await
        .unwrap();
    let of_kind: Vec<JsValue> = array(list)
        .into_iter()
        .filter(|d| get(d, "kind") == kind && get(d, "deviceId") != "communications")
        .collect();
    let alias = |d: &JsValue| {
        get(d, "deviceId") == "default"
            && of_kind
                .iter()
                .any(|o| get(o, "deviceId") != "default" && get(o, "groupId") == get(d, "groupId"))
    };
    of_kind.iter().filter(|d| !alias(d)).count()
}
