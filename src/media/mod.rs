//! The browser's media: devices, the call's `RTCPeerConnection`, remote audio playback.
//!
//! Beware: `MediaStreamTrack` and `MediaStream` have an inherent `clone()` (the DOM's, which
//! makes a *new* track or stream). To copy the handle, write `Clone::clone(&track)`.

pub mod audio;
pub mod devices;
pub mod peer;
