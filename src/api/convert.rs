//! Protocol values as the ACS SDK shows them to JavaScript: call and participant states by
//! name, end reasons as `{code, subCode}`, caller info, and the `id` of a device info.

use super::events::object;
use super::identifier::identifier_to_js;
use rtcall_protocol::call::{CallState, EndReason, ParticipantState};
use rtcall_protocol::CommunicationIdentifier;
use wasm_bindgen::prelude::*;

/// `CallState` as JavaScript spells it.
pub fn state_str(state: CallState) -> &'static str {
    match state {
        CallState::None => "None",
        CallState::Connecting => "Connecting",
        CallState::Ringing => "Ringing",
        CallState::EarlyMedia => "EarlyMedia",
        CallState::Connected => "Connected",
        CallState::LocalHold => "LocalHold",
        CallState::RemoteHold => "RemoteHold",
        CallState::InLobby => "InLobby",
        CallState::Disconnecting => "Disconnecting",
        CallState::Disconnected => "Disconnected",
    }
}

/// `RemoteParticipantState` as JavaScript spells it.
pub fn participant_state_str(state: ParticipantState) -> &'static str {
    match state {
        ParticipantState::Idle => "Idle",
        ParticipantState::Connecting => "Connecting",
        ParticipantState::Ringing => "Ringing",
        ParticipantState::EarlyMedia => "EarlyMedia",
        ParticipantState::Connected => "Connected",
        ParticipantState::Hold => "Hold",
        ParticipantState::InLobby => "InLobby",
        ParticipantState::Disconnected => "Disconnected",
    }
}

/// `CallEndReason` as a plain object, or undefined.
pub fn end_reason_js(reason: Option<EndReason>) -> JsValue {
    reason.map_or(JsValue::UNDEFINED, |r| {
        object(&[("code", r.code.into()), ("subCode", r.sub_code.into())])
    })
}

/// `callerInfo`.
pub fn caller_info_js(raw_id: &str, display_name: &str) -> JsValue {
    object(&[
        (
            "identifier",
            identifier_to_js(&CommunicationIdentifier::from_raw_id(raw_id)),
        ),
        ("displayName", display_name.into()),
    ])
}

/// The `id` of a `VideoDeviceInfo` or `AudioDeviceInfo`.
pub fn device_id(info: &JsValue) -> Option<String> {
    js_sys::Reflect::get(info, &"id".into()).ok()?.as_string()
}
