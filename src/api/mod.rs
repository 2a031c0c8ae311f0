//! The exported JavaScript classes and functions, named and shaped as in
//! `@azure/communication-calling` and `@azure/communication-common`. They are thin: logic lives
//! in `engine` (and `rtcall_protocol`), browser plumbing in `media` and `signal`.

pub mod call_client;
pub mod credential;
pub mod error;
pub mod identifier;

pub use call_client::CallClient;
pub use credential::TokenCredential;
pub use error::{ApiError, SubCode};
