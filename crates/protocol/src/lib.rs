//! rtcall's wire format, shared by the browser library and `rtcall-server`: the one definition of
//! communication identifiers, access-token claims, call vocabulary (states, end reasons), the
//! signaling messages with their error codes, and the call features' messages.
//!
//! Pure data and parsing, no I/O; it builds for native targets and for `wasm32-unknown-unknown`.
//! The `json` feature (on by default) adds reading token claims with serde_json.
//!
//! ```
//! use rtcall_protocol::CommunicationIdentifier;
//!
//! let id = CommunicationIdentifier::from_raw_id("4:+14255550123");
//! assert_eq!(id, CommunicationIdentifier::PhoneNumber {
//!     phone_number: "+14255550123".into(),
//!     raw_id: Some("4:+14255550123".into()),
//! });
//! assert_eq!(id.raw_id(), "4:+14255550123");
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod call;
pub mod features;
mod identifier;
mod names;
pub mod signal;
pub mod token;

pub use identifier::{is_e164, CommunicationIdentifier, IdentifierInput, TeamsCloud};
