//! The exported JavaScript classes and functions, named and shaped as in
//! `@azure/communication-calling` and `@azure/communication-common`. They are thin: the call
//! logic lives in `engine` (and `rtcall_protocol`), browser plumbing in `media` and `signal`.

pub mod audio_effects;
pub mod audio_stream;
pub mod call;
pub mod call_agent;
pub mod call_client;
mod convert;
pub mod credential;
pub mod device_manager;
pub mod diagnostics;
pub mod environment;
pub mod error;
pub mod events;
pub mod feature_host;
pub mod features;
pub mod identifier;
pub mod lobby;
mod local_media;
mod object;
pub mod participant;
mod promise;
pub mod remote_audio;
pub mod renderer;
pub mod streams;
pub mod volume;

pub use audio_effects::AudioEffectsFeature;
pub use audio_stream::LocalAudioStream;
pub use call::Call;
pub use call_agent::CallAgent;
pub use call_agent::IncomingCall;
pub use call_client::CallClient;
pub use credential::TokenCredential;
pub use device_manager::DeviceManager;
pub use error::{ApiError, SubCode};
pub use features::{DominantSpeakersFeature, EchoTestFeature};
pub use participant::RemoteParticipant;
pub use remote_audio::RemoteAudioStream;
pub use renderer::{VideoStreamRenderer, VideoStreamRendererView};
pub use streams::{LocalVideoStream, RemoteVideoStream};
pub use volume::Volume;
