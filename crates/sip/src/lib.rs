//! SIP for rtcall's telephone gateway: the pieces of a SIP user agent talking to a trunk, as
//! plain data and pure functions (no sockets, no clocks), so the server's gateway can drive
//! them and tests can check them against the RFCs' own examples.
//!
//! - [`message`]: SIP requests and responses, parsed from untrusted datagrams and written out;
//! - [`sdp`]: the audio offer/answer of a telephone call;
//! - [`call`]: one call's dialog, outgoing or incoming, over
//!   [`transaction`]: what is resent until answered, and when a transaction gives up;
//! - [`digest`]: answering a trunk's digest challenge;
//! - [`g711`]: μ-law and A-law;
//! - [`rtp`] and [`dtmf`]: RTP packets and RFC 4733 telephone events.
//!
//! ```
//! use rtcall_sip::message::{Message, Method};
//!
//! let mut options = Message::request(Method::Options, "sip:trunk.example.com");
//! options
//!     .push("Via", "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1")
//!     .push("From", "<sip:rtcall@127.0.0.1>;tag=a")
//!     .push("To", "<sip:trunk.example.com>")
//!     .push("Call-ID", "1@127.0.0.1")
//!     .push("CSeq", "1 OPTIONS");
//! let parsed = Message::parse(&options.to_bytes()).unwrap();
//! assert_eq!(parsed.branch(), Some("z9hG4bK1"));
//! ```
#![forbid(unsafe_code)]

pub mod call;
pub mod digest;
pub mod dtmf;
pub mod g711;
pub mod message;
pub mod rtp;
pub mod sdp;
pub mod transaction;
