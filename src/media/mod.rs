//! The browser's media: devices, screen capture, the call's `RTCPeerConnection`, remote audio
//! playback, the microphone's DSP worklet.
//!
//! Beware: `MediaStreamTrack` and `MediaStream` have an inherent `clone()` (the DOM's, which
//! makes a *new* track or stream). To copy the handle, write `Clone::clone(&track)`.

pub mod audio;
pub mod devices;
pub mod effects;
pub mod peer;
pub mod screen;
pub mod stats;

/// Lets a promise settle unobserved: a rejection that changes nothing (a superseded `play()`,
/// an output device gone) must not surface as an unhandled rejection in the app.
pub fn settle(promise: js_sys::Promise) {
    wasm_bindgen_futures::spawn_local(async move {
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    });
}
