//! rtcall
