//! The identifier helpers as JavaScript sees them: plain objects in, plain objects out, with the
//! field names of `@azure/communication-common`.

#![cfg(target_arch = "wasm32")]

use rtcall::api::identifier::*;
use serde_json::json;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn js(value: serde_json::Value) -> JsValue {
    js_sys::JSON::parse(&value.to_string()).unwrap()
}

fn json(value: &JsValue) -> serde_json::Value {
    serde_json::from_str(&js_sys::JSON::stringify(value).unwrap().as_string().unwrap()).unwrap()
}

#[wasm_bindgen_test]
fn raw_ids_become_kind_objects() {
    let cases = [
        (
            "8:acs:res_0001",
            json!({"kind": "communicationUser", "communicationUserId": "8:acs:res_0001"}),
        ),
        (
            "4:+14255550123",
            json!({"kind": "phoneNumber", "phoneNumber": "+14255550123", "rawId": "4:+14255550123"}),
        ),
        (
            "8:orgid:abc",
            json!({"kind": "microsoftTeamsUser", "microsoftTeamsUserId": "abc", "isAnonymous": false, "cloud": "public", "rawId": "8:orgid:abc"}),
        ),
        (
            "8:teamsvisitor:v",
            json!({"kind": "microsoftTeamsUser", "microsoftTeamsUserId": "v", "isAnonymous": true, "cloud": "public", "rawId": "8:teamsvisitor:v"}),
        ),
        (
            "28:gcch:bot",
            json!({"kind": "microsoftTeamsApp", "teamsAppId": "bot", "cloud": "gcch", "rawId": "28:gcch:bot"}),
        ),
        ("8:echo123", json!({"kind": "unknown", "id": "8:echo123"})),
    ];
    for (raw, expected) in cases {
        let identifier = create_identifier_from_raw_id(raw);
        assert!(identifier.is_object());
        assert_eq!(
            js_sys::Object::get_prototype_of(&identifier),
            js_sys::Object::get_prototype_of(&js_sys::Object::new()),
            "a plain object, not a Map"
        );
        assert_eq!(json(&identifier), expected);
        assert_eq!(get_identifier_raw_id(identifier).unwrap(), raw);
    }
}

#[wasm_bindgen_test]
fn plain_identifiers_get_their_kind_and_raw_id() {
    let user = js(json!({"communicationUserId": "8:echo123"}));
    assert_eq!(
        json(&get_identifier_kind(user.clone()).unwrap()),
        json!({"kind": "communicationUser", "communicationUserId": "8:echo123"})
    );
    assert_eq!(get_identifier_raw_id(user).unwrap(), "8:echo123");
    let phone = js(json!({"phoneNumber": "+4930123"}));
    assert_eq!(get_identifier_raw_id(phone).unwrap(), "4:+4930123");
    let teams = js(json!({"microsoftTeamsUserId": "u", "cloud": "dod"}));
    assert_eq!(get_identifier_raw_id(teams).unwrap(), "8:dod:u");
    let unknown = js(json!({"id": "whatever"}));
    assert_eq!(
        json(&get_identifier_kind(unknown).unwrap()),
        json!({"kind": "unknown", "id": "whatever"})
    );
}

#[wasm_bindgen_test]
fn type_guards_test_the_naming_field() {
    let user = js(json!({"communicationUserId": "8:acs:x_y"}));
    let phone = js(json!({"phoneNumber": "+1"}));
    let teams = js(json!({"microsoftTeamsUserId": "u"}));
    let app = js(json!({"teamsAppId": "a"}));
    let unknown = js(json!({"id": "z"}));
    let guards: [fn(&JsValue) -> bool; 5] = [
        is_communication_user_identifier,
        is_phone_number_identifier,
        is_microsoft_teams_user_identifier,
        is_microsoft_teams_app_identifier,
        is_unknown_identifier,
    ];
    for (i, value) in [user, phone, teams, app, unknown].iter().enumerate() {
        for (j, guard) in guards.iter().enumerate() {
            assert_eq!(guard(value), i == j, "guard {j} on identifier {i}");
        }
    }
    assert!(!is_communication_user_identifier(&JsValue::NULL));
    assert!(!is_phone_number_identifier(&js(json!({"phoneNumber": 5}))));
}

#[wasm_bindgen_test]
fn bad_identifiers_throw_a_coded_error() {
    for bad in [
        JsValue::from(5),
        js(json!({})),
        js(json!({"communicationUserId": 7})),
    ] {
        let err: JsValue = get_identifier_raw_id(bad).unwrap_err().into();
        let get = |name: &str| js_sys::Reflect::get(&err, &name.into()).unwrap();
        assert_eq!(get("name"), "CommunicationServicesError");
        assert_eq!(get("code"), 400);
        assert_eq!(get("subCode"), 41001);
        assert!(err.is_instance_of::<js_sys::Error>());
    }
}
