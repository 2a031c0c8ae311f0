//! Unplugging the selected microphone (simulated: the page's device list loses it and
//! `devicechange` fires). In its own file: it changes `enumerateDevices` for the whole page.

#![cfg(target_arch = "wasm32")]

use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

mod support;

use support::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn unplugging_the_selected_microphone_falls_back_to_the_default() {
    let manager = device_manager().await;
    let microphones = array(call(&manager, "getMicrophones", &[]).await.unwrap());
    // Firefox's fake devices are one microphone, the default: there is nothing to fall back
    // from, and this test has nothing to check there.
    let Some(chosen) = microphones
        .iter()
        .find(|m| get(m, "isSystemDefault") == false)
        .cloned()
    else {
        assert_eq!(
            browser_devices("audioinput").await,
            1,
            "only one microphone"
        );
        web_sys::console::log_1(&"one microphone: no fallback to test in this engine".into());
        return;
    };
    call(&manager, "selectMicrophone", std::slice::from_ref(&chosen))
        .await
        .unwrap();
    let (on_selected, selections) = counter();
    let (on_devices, updates) = counter();
    call(
        &manager,
        "on",
        &["selectedMicrophoneChanged".into(), on_selected.into()],
    )
    .await
    .unwrap();
    call(
        &manager,
        "on",
        &["audioDevicesUpdated".into(), on_devices.into()],
    )
    .await
    .unwrap();
    // Unplug it: the browser lists devices without it and fires `devicechange`.
    let unplug = js_sys::Function::new_with_args(
        "gone",
        "const media = navigator.mediaDevices;
         const original = media.enumerateDevices.bind(media);
         media.enumerateDevices = async () => (await original()).filter((d) => d.deviceId !== gone);
         media.dispatchEvent(new Event('devicechange'));",
    );
    unplug.call1(&JsValue::NULL, &get(&chosen, "id")).unwrap();
    for _ in 0..100 {
        if count(&selections) >= 1.0 {
            break;
        }
        settle(20).await;
    }
    assert_eq!(count(&selections), 1.0, "selectedMicrophoneChanged fired");
    assert!(count(&updates) >= 1.0, "audioDevicesUpdated fired");
    let selected = get(&manager, "selectedMicrophone");
    assert_eq!(
        get(&selected, "isSystemDefault"),
        true,
        "back on the default"
    );
}
