//! rtcall, the browser library: voice and video calling for the web, drop-in compatible with
//! `@azure/communication-calling`.
//!
//! Built to WebAssembly and published on npm as `rtcall`, whose entry initializes the module and
//! re-exports these classes under their ACS names. Rust web apps use the same types directly:
//!
//! ```no_run
//! use rtcall::api::{CallClient, TokenCredential};
//!
//! # fn run(token: &str) -> Result<(), rtcall::api::ApiError> {
//! let credential = TokenCredential::from_token(token)?;
//! let client = CallClient::new(wasm_bindgen::JsValue::UNDEFINED)?;
//! # let _ = (credential, client);
//! # Ok(())
//! # }
//! ```
//!
//! Layout: [`engine`] is the pure core (tested natively), [`api`] the exported classes,
//! [`media`] the browser's media, [`signal`] the WebSocket, [`time`] the clock.

pub mod api;
pub mod engine;
pub mod media;
pub mod signal;
pub mod time;
