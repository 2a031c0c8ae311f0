//! The identifier helpers of `@azure/communication-common`: `createIdentifierFromRawId`,
//! `getIdentifierRawId`, `getIdentifierKind` and the `is…Identifier` type guards. The rules live
//! in `rtcall_protocol`; this module converts between them and plain JavaScript objects, field
//! by field (the names are those of `@azure/communication-common`).

use super::error::ApiError;
use super::events::object;
use rtcall_protocol::{CommunicationIdentifier, IdentifierInput, TeamsCloud};
use wasm_bindgen::prelude::*;

/// Reads any identifier shape an app may pass (`{communicationUserId}`, `{phoneNumber}`, a
/// `…Kind` object, `{id}`).
pub fn identifier_from_js(value: &JsValue) -> Result<CommunicationIdentifier, ApiError> {
    if !value.is_object() {
        return Err(ApiError::invalid_argument(
            "an identifier must be an object such as {communicationUserId} or {phoneNumber}",
        ));
    }
    let field =
        |name: &str| js_sys::Reflect::get(value, &name.into()).unwrap_or(JsValue::UNDEFINED);
    let text = |name: &str| -> Result<Option<String>, ApiError> {
        let v = field(name);
        if v.is_undefined() || v.is_null() {
            return Ok(None);
        }
        v.as_string().map(Some).ok_or_else(|| {
            ApiError::invalid_argument(format!("invalid identifier: {name} must be a string"))
        })
    };
    let cloud = match text("cloud")? {
        None => None,
        Some(name) => Some(TeamsCloud::from_name(&name).ok_or_else(|| {
            ApiError::invalid_argument(
                "invalid identifier: cloud must be 'public', 'dod' or 'gcch'",
            )
        })?),
    };
    let input = IdentifierInput {
        kind: text("kind")?,
        communication_user_id: text("communicationUserId")?,
        phone_number: text("phoneNumber")?,
        microsoft_teams_user_id: text("microsoftTeamsUserId")?,
        is_anonymous: field("isAnonymous").as_bool(),
        cloud,
        teams_app_id: text("teamsAppId")?,
        id: text("id")?,
        raw_id: text("rawId")?,
    };
    input.resolve().ok_or_else(|| {
        ApiError::invalid_argument(
            "the identifier has none of communicationUserId, phoneNumber, microsoftTeamsUserId, teamsAppId or id",
        )
    })
}

/// Converts an identifier to its plain-object `…Kind` form.
pub fn identifier_to_js(identifier: &CommunicationIdentifier) -> JsValue {
    let raw = |raw_id: &Option<String>| raw_id.as_deref().map_or(JsValue::UNDEFINED, JsValue::from);
    let kind = ("kind", identifier.kind().into());
    match identifier {
        CommunicationIdentifier::CommunicationUser { id } => {
            object(&[kind, ("communicationUserId", id.into())])
        }
        CommunicationIdentifier::PhoneNumber {
            phone_number,
            raw_id,
        } => object(&[
            kind,
            ("phoneNumber", phone_number.into()),
            ("rawId", raw(raw_id)),
        ]),
        CommunicationIdentifier::MicrosoftTeamsUser {
            microsoft_teams_user_id,
            is_anonymous,
            cloud,
            raw_id,
        } => object(&[
            kind,
            ("microsoftTeamsUserId", microsoft_teams_user_id.into()),
            ("isAnonymous", (*is_anonymous).into()),
            ("cloud", cloud.as_str().into()),
            ("rawId", raw(raw_id)),
        ]),
        CommunicationIdentifier::MicrosoftTeamsApp {
            teams_app_id,
            cloud,
            raw_id,
        } => object(&[
            kind,
            ("teamsAppId", teams_app_id.into()),
            ("cloud", cloud.as_str().into()),
            ("rawId", raw(raw_id)),
        ]),
        CommunicationIdentifier::Unknown { id } => object(&[kind, ("id", id.into())]),
    }
}

/// Whether `value` has a string property `name`: the SDK's type guards test exactly this.
fn has_string(value: &JsValue, name: &str) -> bool {
    value.is_object() && js_sys::Reflect::get(value, &name.into()).is_ok_and(|v| v.is_string())
}

/// Parses a raw id (`8:acs:…`, `4:+1…`, `8:orgid:…`, …) into an identifier of the matching kind.
#[wasm_bindgen(js_name = createIdentifierFromRawId, unchecked_return_type = "CommunicationIdentifierKind")]
pub fn create_identifier_from_raw_id(raw_id: &str) -> JsValue {
    identifier_to_js(&CommunicationIdentifier::from_raw_id(raw_id))
}

/// The raw id of an identifier.
#[wasm_bindgen(js_name = getIdentifierRawId)]
pub fn get_identifier_raw_id(
    #[wasm_bindgen(unchecked_param_type = "CommunicationIdentifier")] identifier: JsValue,
) -> Result<String, ApiError> {
    Ok(identifier_from_js(&identifier)?.raw_id())
}

/// The identifier with its `kind` tag.
#[wasm_bindgen(js_name = getIdentifierKind, unchecked_return_type = "CommunicationIdentifierKind")]
pub fn get_identifier_kind(
    #[wasm_bindgen(unchecked_param_type = "CommunicationIdentifier")] identifier: JsValue,
) -> Result<JsValue, ApiError> {
    Ok(identifier_to_js(&identifier_from_js(&identifier)?))
}

/// Whether `identifier` is a `CommunicationUserIdentifier`.
#[wasm_bindgen(js_name = isCommunicationUserIdentifier)]
pub fn is_communication_user_identifier(identifier: &JsValue) -> bool {
    has_string(identifier, "communicationUserId")
}

/// Whether `identifier` is a `PhoneNumberIdentifier`.
#[wasm_bindgen(js_name = isPhoneNumberIdentifier)]
pub fn is_phone_number_identifier(identifier: &JsValue) -> bool {
    has_string(identifier, "phoneNumber")
}

/// Whether `identifier` is a `MicrosoftTeamsUserIdentifier`.
#[wasm_bindgen(js_name = isMicrosoftTeamsUserIdentifier)]
pub fn is_microsoft_teams_user_identifier(identifier: &JsValue) -> bool {
    has_string(identifier, "microsoftTeamsUserId")
}

/// Whether `identifier` is a `MicrosoftTeamsAppIdentifier`.
#[wasm_bindgen(js_name = isMicrosoftTeamsAppIdentifier)]
pub fn is_microsoft_teams_app_identifier(identifier: &JsValue) -> bool {
    has_string(identifier, "teamsAppId")
}

/// Whether `identifier` is an `UnknownIdentifier`.
#[wasm_bindgen(js_name = isUnknownIdentifier)]
pub fn is_unknown_identifier(identifier: &JsValue) -> bool {
    has_string(identifier, "id")
}
