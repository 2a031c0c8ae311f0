//! rtcall, the browser library: voice and video calling for the web, drop-in compatible with
//! `@azure/communication-calling`.
//!
//! Built to WebAssembly and published on npm as `rtcall`, whose entry initializes the module and
//! re-exports these classes under their ACS names. Rust web apps (Leptos, Yew, Dioxus) use the same
//! types directly:
//!
//! ```no_run
//! use rtcall::api::{CallClient, TokenCredential};
//! use wasm_bindgen::prelude::*;
//! use wasm_bindgen::JsCast;
//!
//! async fn call_bob(token: &str, bob: &str) -> Result<(), rtcall::api::ApiError> {
//!     let client = CallClient::new(JsValue::UNDEFINED)?;
//!     let credential = TokenCredential::from_token(token)?;
//!     let agent = client.create_call_agent(credential.into(), "Ada".into()).await?;
//!     let call = agent.call_users(&[bob])?;
//!     let watched = call.clone();
//!     let on_state = Closure::<dyn FnMut()>::new(move || {
//!         web_sys::console::log_1(&format!("{:?}", watched.current_state()).into());
//!     });
//!     call.on("stateChanged", on_state.as_ref().unchecked_ref::<js_sys::Function>().clone());
//!     on_state.forget();
//!     Ok(())
//! }
//! ```
//!
//! Layout: [`engine`] is the pure core (tested natively); [`signal`] runs it in the page (the
//! WebSocket and the engine's driver); [`media`] is the browser's media; [`api`] the exported
//! classes over them; [`time`] the clock; [`fault`] readable panics and the recovery from them.

pub mod api;
pub mod engine;
pub mod fault;
pub mod media;
pub mod signal;
pub mod time;

/// Runs as the module loads: a panic prints its message and location (see [`fault`]).
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {
    fault::install();
}
