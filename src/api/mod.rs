//! The exported JavaScript classes and functions, named and shaped as in
//! `@azure/communication-calling` and `@azure/communication-common`. They are thin: the call
//! logic lives in `engine` (and `rtcall_protocol`), browser plumbing in `media` and `signal`.

pub mod audio_effects;
pub mod audio_stream;
pub mod call;
pub mod call_agent;
pub mod call_client;
pub mod credential;
pub mod device_manager;
pub mod error;
pub mod events;
pub mod features;
pub mod identifier;
pub mod incoming_call;
mod object;
pub mod participant;
pub mod remote_audio;
pub mod renderer;
mod screen_share;
pub mod streams;

pub use audio_effects::AudioEffectsFeature;
pub use audio_stream::{LocalAudioStream, Volume};
pub use call::Call;
pub use call_agent::CallAgent;
pub use call_client::CallClient;
pub use credential::TokenCredential;
pub use device_manager::DeviceManager;
pub use error::{ApiError, SubCode};
pub use features::{DominantSpeakersFeature, EchoTestFeature};
pub use incoming_call::IncomingCall;
pub use participant::RemoteParticipant;
pub use remote_audio::RemoteAudioStream;
pub use renderer::{VideoStreamRenderer, VideoStreamRendererView};
pub use streams::{LocalVideoStream, RemoteVideoStream};
