//! Pure-Rust audio DSP for rtcall's AudioWorklets.
#![forbid(unsafe_code)]
