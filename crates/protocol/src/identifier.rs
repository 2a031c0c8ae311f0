//! Communication identifiers: who a user, phone number, Teams user or bot is, and the raw id
//! strings (`8:acs:…`, `4:+1…`) that carry them on the wire.
//!
//! The kinds, field names and raw-id prefixes follow `@azure/communication-common`, so that an
//! identifier made by an app written for that SDK means the same thing here.

use serde::{Deserialize, Serialize};

/// Raw-id prefix of phone numbers (`4:+14255550123`).
const PHONE_NUMBER_PREFIX: &str = "4:";

/// Prefixes (`<first>:<second>:`) of three-segment raw ids that name communication users.
const COMMUNICATION_USER_PREFIXES: [&str; 4] = ["8:acs:", "8:spool:", "8:dod-acs:", "8:gcch-acs:"];

/// The national cloud a Microsoft Teams identity lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TeamsCloud {
    /// The public cloud.
    #[default]
    Public,
    /// US Department of Defense.
    Dod,
    /// US Government Community Cloud High.
    Gcch,
}

impl TeamsCloud {
    fn user_prefix(self) -> &'static str {
        match self {
            TeamsCloud::Public => "8:orgid:",
            TeamsCloud::Dod => "8:dod:",
            TeamsCloud::Gcch => "8:gcch:",
        }
    }

    fn app_prefix(self) -> &'static str {
        match self {
            TeamsCloud::Public => "28:orgid:",
            TeamsCloud::Dod => "28:dod:",
            TeamsCloud::Gcch => "28:gcch:",
        }
    }
}

/// An identifier in its "kind" form (`CommunicationIdentifierKind`): serialized with a `kind` tag
/// and the field names of `@azure/communication-common`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum CommunicationIdentifier {
    /// A user of this service (`8:acs:<resource>_<uuid>`), or a service bot such as `8:echo123`.
    #[serde(rename_all = "camelCase")]
    CommunicationUser {
        /// The user's raw id.
        #[serde(rename = "communicationUserId")]
        id: String,
    },
    /// A phone number in E.164 form (`+14255550123`).
    #[serde(rename_all = "camelCase")]
    PhoneNumber {
        /// The number, with its leading `+`.
        phone_number: String,
        /// The raw id, when known (`4:+14255550123`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        raw_id: Option<String>,
    },
    /// A Microsoft Teams user.
    #[serde(rename_all = "camelCase")]
    MicrosoftTeamsUser {
        /// The Entra object id, or the visitor id of an anonymous user.
        microsoft_teams_user_id: String,
        /// Whether this is an anonymous meeting visitor.
        #[serde(default)]
        is_anonymous: bool,
        /// The cloud the user lives in.
        #[serde(default)]
        cloud: TeamsCloud,
        /// The raw id, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        raw_id: Option<String>,
    },
    /// A Microsoft Teams app (bot).
    #[serde(rename_all = "camelCase")]
    MicrosoftTeamsApp {
        /// The app id.
        teams_app_id: String,
        /// The cloud the app lives in.
        #[serde(default)]
        cloud: TeamsCloud,
        /// The raw id, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        raw_id: Option<String>,
    },
    /// Anything else, kept as its raw id.
    Unknown {
        /// The raw id.
        id: String,
    },
}

impl CommunicationIdentifier {
    /// Parses a raw id the way `createIdentifierFromRawId` does. Never fails: an id with no known
    /// prefix is [`CommunicationIdentifier::Unknown`].
    pub fn from_raw_id(raw_id: &str) -> Self {
        if let Some(number) = raw_id.strip_prefix(PHONE_NUMBER_PREFIX) {
            // Both `4:+1425…` and the older `4:1425…` spellings name the same number.
            let phone_number = if number.starts_with('+') {
                number.to_owned()
            } else {
                format!("+{number}")
            };
            return Self::PhoneNumber {
                phone_number,
                raw_id: Some(raw_id.to_owned()),
            };
        }
        let segments: Vec<&str> = raw_id.split(':').collect();
        let unknown = || Self::Unknown {
            id: raw_id.to_owned(),
        };
        let [first, second, suffix] = segments[..] else {
            return unknown();
        };
        let prefix = format!("{first}:{second}:");
        if COMMUNICATION_USER_PREFIXES.contains(&prefix.as_str()) {
            return Self::CommunicationUser {
                id: raw_id.to_owned(),
            };
        }
        let raw_id = Some(raw_id.to_owned());
        if prefix == "8:teamsvisitor:" {
            return Self::MicrosoftTeamsUser {
                microsoft_teams_user_id: suffix.to_owned(),
                is_anonymous: true,
                cloud: TeamsCloud::Public,
                raw_id,
            };
        }
        for cloud in [TeamsCloud::Public, TeamsCloud::Dod, TeamsCloud::Gcch] {
            if prefix == cloud.user_prefix() {
                return Self::MicrosoftTeamsUser {
                    microsoft_teams_user_id: suffix.to_owned(),
                    is_anonymous: false,
                    cloud,
                    raw_id,
                };
            }
            if prefix == cloud.app_prefix() {
                return Self::MicrosoftTeamsApp {
                    teams_app_id: suffix.to_owned(),
                    cloud,
                    raw_id,
                };
            }
        }
        unknown()
    }

    /// The raw id (`getIdentifierRawId`): the stored one where the identifier carries it,
    /// otherwise built from the kind's prefix.
    pub fn raw_id(&self) -> String {
        match self {
            Self::CommunicationUser { id } | Self::Unknown { id } => id.clone(),
            Self::PhoneNumber {
                phone_number,
                raw_id,
            } => raw_id
                .clone()
                .unwrap_or_else(|| format!("{PHONE_NUMBER_PREFIX}{phone_number}")),
            Self::MicrosoftTeamsUser {
                microsoft_teams_user_id,
                is_anonymous,
                cloud,
                raw_id,
            } => raw_id.clone().unwrap_or_else(|| {
                let prefix = if *is_anonymous {
                    "8:teamsvisitor:"
                } else {
                    cloud.user_prefix()
                };
                format!("{prefix}{microsoft_teams_user_id}")
            }),
            Self::MicrosoftTeamsApp {
                teams_app_id,
                cloud,
                raw_id,
            } => raw_id
                .clone()
                .unwrap_or_else(|| format!("{}{teams_app_id}", cloud.app_prefix())),
        }
    }

    /// The `kind` tag, as JavaScript spells it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::CommunicationUser { .. } => "communicationUser",
            Self::PhoneNumber { .. } => "phoneNumber",
            Self::MicrosoftTeamsUser { .. } => "microsoftTeamsUser",
            Self::MicrosoftTeamsApp { .. } => "microsoftTeamsApp",
            Self::Unknown { .. } => "unknown",
        }
    }
}

/// Any identifier shape an app may pass: the `…Kind` forms, the plain interfaces without `kind`
/// (`{communicationUserId}`, `{phoneNumber}`, …) and `{id}` / `{rawId}` alone. Every field is
/// optional; [`IdentifierInput::resolve`] decides what it names.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentifierInput {
    /// Explicit kind tag, if present.
    pub kind: Option<String>,
    /// `CommunicationUserIdentifier.communicationUserId`.
    pub communication_user_id: Option<String>,
    /// `PhoneNumberIdentifier.phoneNumber`.
    pub phone_number: Option<String>,
    /// `MicrosoftTeamsUserIdentifier.microsoftTeamsUserId`.
    pub microsoft_teams_user_id: Option<String>,
    /// `MicrosoftTeamsUserIdentifier.isAnonymous`.
    pub is_anonymous: Option<bool>,
    /// `…cloud` of Teams identifiers.
    pub cloud: Option<TeamsCloud>,
    /// `MicrosoftTeamsAppIdentifier.teamsAppId`.
    pub teams_app_id: Option<String>,
    /// `UnknownIdentifier.id`: a raw id.
    pub id: Option<String>,
    /// The raw id carried by phone and Teams identifiers.
    pub raw_id: Option<String>,
}

impl IdentifierInput {
    /// Decides which identifier this is, the way `getIdentifierKind` does: by the field that
    /// names the kind. `None` when no field identifies anything.
    ///
    /// `{id}` alone (an `UnknownIdentifier`) stays [`CommunicationIdentifier::Unknown`], as in the
    /// SDK; places that accept raw ids parse it with [`CommunicationIdentifier::from_raw_id`].
    pub fn resolve(self) -> Option<CommunicationIdentifier> {
        let raw_id = self.raw_id.filter(|r| !r.is_empty());
        if let Some(id) = self.communication_user_id {
            return Some(CommunicationIdentifier::CommunicationUser { id });
        }
        if let Some(phone_number) = self.phone_number {
            return Some(CommunicationIdentifier::PhoneNumber {
                phone_number,
                raw_id,
            });
        }
        if let Some(microsoft_teams_user_id) = self.microsoft_teams_user_id {
            return Some(CommunicationIdentifier::MicrosoftTeamsUser {
                microsoft_teams_user_id,
                is_anonymous: self.is_anonymous.unwrap_or(false),
                cloud: self.cloud.unwrap_or_default(),
                raw_id,
            });
        }
        if let Some(teams_app_id) = self.teams_app_id {
            return Some(CommunicationIdentifier::MicrosoftTeamsApp {
                teams_app_id,
                cloud: self.cloud.unwrap_or_default(),
                raw_id,
            });
        }
        self.id
            .or(raw_id)
            .map(|id| CommunicationIdentifier::Unknown { id })
    }
}

/// Whether `number` is an E.164 number: `+`, a country code not starting with 0, at most 15
/// digits in all (ITU-T E.164 §6). Numbering plans within countries are not checked.
pub fn is_e164(number: &str) -> bool {
    let Some(digits) = number.strip_prefix('+') else {
        return false;
    };
    (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(raw: &str) -> CommunicationIdentifier {
        let id = CommunicationIdentifier::from_raw_id(raw);
        assert_eq!(id.raw_id(), raw, "raw id of {id:?}");
        id
    }

    #[test]
    fn communication_users_by_every_prefix() {
        for raw in [
            "8:acs:1b5cc06b-f352-4571-b1e6-d9b259b7c776_00000000-0000-0000-0000-000000000001",
            "8:spool:abc",
            "8:dod-acs:abc",
            "8:gcch-acs:abc",
        ] {
            assert_eq!(
                round_trip(raw),
                CommunicationIdentifier::CommunicationUser { id: raw.into() }
            );
        }
    }

    #[test]
    fn e164_numbers_are_plus_and_8_to_15_digits() {
        for good in ["+14255550123", "+4930123456", "+861234567890123"] {
            assert!(is_e164(good), "{good}");
        }
        for bad in [
            "14255550123",
            "+0123456789",
            "+1425",
            "+1234567890123456",
            "+1425555O123",
            "",
            "+",
        ] {
            assert!(!is_e164(bad), "{bad}");
        }
    }

    #[test]
    fn phone_numbers_keep_or_add_the_plus() {
        let id = round_trip("4:+14255550123");
        assert!(
            matches!(id, CommunicationIdentifier::PhoneNumber { ref phone_number, .. } if phone_number == "+14255550123")
        );
        let id = round_trip("4:14255550123");
        assert!(
            matches!(id, CommunicationIdentifier::PhoneNumber { ref phone_number, .. } if phone_number == "+14255550123")
        );
        let built = CommunicationIdentifier::PhoneNumber {
            phone_number: "+4930123".into(),
            raw_id: None,
        };
        assert_eq!(built.raw_id(), "4:+4930123");
    }

    #[test]
    fn teams_users_and_apps_in_each_cloud() {
        assert_eq!(
            round_trip("8:teamsvisitor:visitor1"),
            CommunicationIdentifier::MicrosoftTeamsUser {
                microsoft_teams_user_id: "visitor1".into(),
                is_anonymous: true,
                cloud: TeamsCloud::Public,
                raw_id: Some("8:teamsvisitor:visitor1".into()),
            }
        );
        for (raw, cloud) in [
            ("8:orgid:u", TeamsCloud::Public),
            ("8:dod:u", TeamsCloud::Dod),
            ("8:gcch:u", TeamsCloud::Gcch),
        ] {
            let id = round_trip(raw);
            assert!(
                matches!(id, CommunicationIdentifier::MicrosoftTeamsUser { cloud: c, is_anonymous: false, .. } if c == cloud)
            );
        }
        for (raw, cloud) in [
            ("28:orgid:app", TeamsCloud::Public),
            ("28:dod:app", TeamsCloud::Dod),
            ("28:gcch:app", TeamsCloud::Gcch),
        ] {
            let id = round_trip(raw);
            assert!(
                matches!(id, CommunicationIdentifier::MicrosoftTeamsApp { cloud: c, ref teams_app_id, .. } if c == cloud && teams_app_id == "app")
            );
        }
    }

    #[test]
    fn anything_else_is_unknown() {
        // Two segments (the echo bot's id), four segments, an unknown prefix, empty.
        for raw in ["8:echo123", "8:acs:a:b", "9:acs:x", "", "28:orgid"] {
            assert_eq!(
                round_trip(raw),
                CommunicationIdentifier::Unknown { id: raw.into() }
            );
        }
    }

    #[test]
    fn built_teams_raw_ids_use_the_cloud_prefix() {
        let user = CommunicationIdentifier::MicrosoftTeamsUser {
            microsoft_teams_user_id: "u".into(),
            is_anonymous: false,
            cloud: TeamsCloud::Gcch,
            raw_id: None,
        };
        assert_eq!(user.raw_id(), "8:gcch:u");
        let app = CommunicationIdentifier::MicrosoftTeamsApp {
            teams_app_id: "a".into(),
            cloud: TeamsCloud::Dod,
            raw_id: None,
        };
        assert_eq!(app.raw_id(), "28:dod:a");
    }

    #[test]
    fn kind_form_serializes_with_sdk_field_names() {
        let json = serde_json::to_value(CommunicationIdentifier::from_raw_id("4:+1555")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "phoneNumber", "phoneNumber": "+1555", "rawId": "4:+1555"})
        );
        let json = serde_json::to_value(CommunicationIdentifier::from_raw_id("8:acs:r_u")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "communicationUser", "communicationUserId": "8:acs:r_u"})
        );
    }

    #[test]
    fn input_resolves_by_its_naming_field() {
        let input: IdentifierInput =
            serde_json::from_value(serde_json::json!({"communicationUserId": "8:echo123"}))
                .unwrap();
        assert_eq!(
            input.resolve(),
            Some(CommunicationIdentifier::CommunicationUser {
                id: "8:echo123".into()
            })
        );
        let input: IdentifierInput = serde_json::from_value(
            serde_json::json!({"microsoftTeamsUserId": "x", "cloud": "dod"}),
        )
        .unwrap();
        assert_eq!(input.resolve().unwrap().raw_id(), "8:dod:x");
        let input: IdentifierInput =
            serde_json::from_value(serde_json::json!({"id": "8:acs:r_u"})).unwrap();
        assert_eq!(
            input.resolve(),
            Some(CommunicationIdentifier::Unknown {
                id: "8:acs:r_u".into()
            })
        );
        assert_eq!(IdentifierInput::default().resolve(), None);
    }
}
