//! Signaling: the call hub (a sans-IO state machine of endpoints and calls) and the WebSocket
//! shell that authenticates endpoints and carries their messages to and from it.

pub mod hub;
pub mod session;
pub mod turn;

use std::time::Duration;

/// Signaling settings.
#[derive(Debug, Clone)]
pub struct SignalingConfig {
    /// How often clients ping; silent for three intervals, an endpoint is dropped.
    pub heartbeat_interval: Duration,
    /// TURN servers handed to clients, if any.
    pub turn: Option<turn::TurnConfig>,
}
