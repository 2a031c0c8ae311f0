//! The browser shell of the signaling engine: the WebSocket to the service ([`socket`]) and
//! the [`Driver`] that runs the sans-IO [`Agent`](crate::engine::agent::Agent) in the page —
//! it fetches tokens, opens and reopens the socket, feeds frames and time in, and carries out
//! what the engine asks. The API classes talk to the service only through a driver.

mod driver;
pub mod socket;

pub use driver::{Driver, DriverEvents};
pub use socket::{decode, encode, signal_url, SignalSocket};
