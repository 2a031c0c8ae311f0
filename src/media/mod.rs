//! The browser's media: devices, the call's `RTCPeerConnection`, remote audio playback.

pub mod audio;
pub mod devices;
pub mod peer;
