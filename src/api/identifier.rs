//! The identifier helpers of `@azure/communication-common`: `createIdentifierFromRawId`,
//! `getIdentifierRawId`, `getIdentifierKind` and the `is…Identifier` type guards. The rules live
//! in `rtcall_protocol`; this module converts between them and plain JavaScript objects.

use super::error::ApiError;
use rtcall_protocol::{CommunicationIdentifier, IdentifierInput};
use serde::Serialize;
use wasm_bindgen::prelude::*;

/// Reads any identifier shape an app may pass (`{communicationUserId}`, `{phoneNumber}`, a
/// `…Kind` object, `{id}`).
pub fn identifier_from_js(value: &JsValue) -> Result<CommunicationIdentifier, ApiError> {
    if !value.is_object() {
        return Err(ApiError::invalid_argument(
            "an identifier must be an object such as {communicationUserId} or {phoneNumber}",
        ));
    }
    let input: IdentifierInput = serde_wasm_bindgen::from_value(value.clone())
        .map_err(|e| ApiError::invalid_argument(format!("invalid identifier: {e}")))?;
    input.resolve().ok_or_else(|| {
        ApiError::invalid_argument(
            "the identifier has none of communicationUserId, phoneNumber, microsoftTeamsUserId, teamsAppId or id",
        )
    })
}

/// Converts an identifier to its plain-object `…Kind` form.
pub fn identifier_to_js(identifier: &CommunicationIdentifier) -> JsValue {
    // Plain objects (not Maps), as JSON would give; the enum has only strings and booleans, so
    // serializing cannot fail.
    identifier
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .unwrap_or(JsValue::UNDEFINED)
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
