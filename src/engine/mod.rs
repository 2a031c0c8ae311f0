//! The sans-IO core of the browser library: decisions as pure functions and state machines that
//! take the current time as input. No web-sys here, so all of it is tested natively.

pub mod agent;
pub mod call;
pub mod credential;
pub mod network;
pub mod requests;
pub mod wire;
