//! The names that unit enums have on the wire (as serde writes them), for readers that do not
//! use serde: the browser library reads and writes its frames by hand. A test checks each name
//! against serde's.

/// Implements `as_str` and `from_name` for a unit enum from its variants' wire names.
macro_rules! wire_names {
    ($ty:ident { $($variant:ident = $name:literal),* $(,)? }) => {
        impl $ty {
            /// Every value.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),*];

            /// Its name on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name,)*
                }
            }

            /// The value of a name on the wire.
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($name => Some($ty::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

use crate::call::{CallState, ParticipantState, StreamKind};
use crate::features::Role;
use crate::signal::VideoSource;
use crate::TeamsCloud;

wire_names!(CallState {
    None = "None",
    Connecting = "Connecting",
    Ringing = "Ringing",
    EarlyMedia = "EarlyMedia",
    Connected = "Connected",
    LocalHold = "LocalHold",
    RemoteHold = "RemoteHold",
    InLobby = "InLobby",
    Disconnecting = "Disconnecting",
    Disconnected = "Disconnected",
});

wire_names!(ParticipantState {
    Idle = "Idle",
    Connecting = "Connecting",
    Ringing = "Ringing",
    EarlyMedia = "EarlyMedia",
    Connected = "Connected",
    Hold = "Hold",
    InLobby = "InLobby",
    Disconnected = "Disconnected",
});

wire_names!(StreamKind {
    Video = "Video",
    ScreenSharing = "ScreenSharing",
});

wire_names!(VideoSource {
    Camera = "camera",
    Screen = "screen",
});

wire_names!(TeamsCloud {
    Public = "public",
    Dod = "dod",
    Gcch = "gcch",
});

wire_names!(Role {
    Unknown = "Unknown",
    Attendee = "Attendee",
    Presenter = "Presenter",
    Organizer = "Organizer",
});

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;

    fn check<T: Serialize + Copy + PartialEq + std::fmt::Debug>(
        all: &[T],
        name: impl Fn(T) -> &'static str,
        parse: impl Fn(&str) -> Option<T>,
    ) {
        for value in all {
            assert_eq!(serde_json::to_value(value).unwrap(), name(*value));
            assert_eq!(parse(name(*value)), Some(*value));
        }
        assert_eq!(parse("nonsense"), None);
    }

    #[test]
    fn the_names_are_serde_names() {
        check(CallState::ALL, CallState::as_str, CallState::from_name);
        check(
            ParticipantState::ALL,
            ParticipantState::as_str,
            ParticipantState::from_name,
        );
        check(StreamKind::ALL, StreamKind::as_str, StreamKind::from_name);
        check(
            VideoSource::ALL,
            VideoSource::as_str,
            VideoSource::from_name,
        );
        check(Role::ALL, Role::as_str, Role::from_name);
        check(TeamsCloud::ALL, TeamsCloud::as_str, TeamsCloud::from_name);
        assert_eq!(CallState::ALL.len(), 10);
        assert_eq!(ParticipantState::ALL.len(), 8);
    }
}
