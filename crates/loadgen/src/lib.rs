//! Native rtcall clients for tests and load generation: signaling over the real WebSocket
//! protocol and media over real UDP with str0m, answering the server's offers as a browser
//! would. `rtcall-server`'s integration tests drive them one by one; the `rtcall-loadgen`
//! binary drives many at once to measure call set-up time and SFU forwarding cost.

pub mod client;
pub mod kernel;
pub mod media;
pub mod scenario;
pub mod server;

pub use client::Client;
pub use media::{LineKind, MediaState, Receiving, Sending, Tag};
