//! The device manager, local video streams, renderer views and errors in a real browser with
//! its fake devices (Chromium: three cameras, microphones and speakers; Firefox: one camera,
//! one microphone, no speaker), used through their JavaScript surface as an app would.

#![cfg(target_arch = "wasm32")]

use rtcall::api::{CallClient, LocalVideoStream, VideoStreamRenderer};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

mod support;

use support::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn devices_are_listed_with_their_kinds_once_permitted() {
    let manager = device_manager().await;
    let access = call(
        &manager,
        "askDevicePermission",
        &[js_sys::JSON::parse(r#"{"audio": true, "video": true}"#).unwrap()],
    )
    .await
    .unwrap();
    assert_eq!(get(&access, "audio"), true);
    assert_eq!(get(&access, "video"), true);
    let cameras = array(call(&manager, "getCameras", &[]).await.unwrap());
    assert!(!cameras.is_empty(), "a fake camera at least");
    assert_eq!(
        cameras.len(),
        browser_devices("videoinput").await,
        "every camera"
    );
    for camera in &cameras {
        assert_eq!(get(camera, "deviceType"), "UsbCamera");
        assert!(
            !get(camera, "name").as_string().unwrap().is_empty(),
            "labels after permission"
        );
    }
    let microphones = array(call(&manager, "getMicrophones", &[]).await.unwrap());
    // rtcall lists each device once, as the browser's own list does without its aliases.
    let listed = browser_devices("audioinput").await;
    assert!(!microphones.is_empty());
    assert_eq!(microphones.len(), listed, "every microphone, once");
    assert!(microphones
        .iter()
        .all(|m| get(m, "deviceType") == "Microphone"));
    assert_eq!(
        microphones
            .iter()
            .filter(|m| get(m, "isSystemDefault") == true)
            .count(),
        1
    );
    let speakers = array(call(&manager, "getSpeakers", &[]).await.unwrap());
    assert_eq!(
        speakers.is_empty(),
        browser_devices("audiooutput").await == 0
    );
    assert!(speakers.iter().all(|s| get(s, "deviceType") == "Speaker"));
}

#[wasm_bindgen_test]
async fn selecting_a_microphone_and_a_speaker_fires_their_events() {
    let manager = device_manager().await;
    let microphones = array(call(&manager, "getMicrophones", &[]).await.unwrap());
    let (on_microphone, microphone_events) = counter();
    call(
        &manager,
        "on",
        &["selectedMicrophoneChanged".into(), on_microphone.into()],
    )
    .await
    .unwrap();
    let chosen = microphones.last().unwrap().clone();
    call(&manager, "selectMicrophone", std::slice::from_ref(&chosen))
        .await
        .unwrap();
    settle(0).await;
    assert_eq!(count(&microphone_events), 1.0);
    assert_eq!(
        get(&get(&manager, "selectedMicrophone"), "id"),
        get(&chosen, "id")
    );

    let audio = web_sys::window()
        .unwrap()
        .document()
        .unwrap()
        .create_element("audio")
        .unwrap();
    let has_sink_id = js_sys::Reflect::has(&audio, &"setSinkId".into()).unwrap();
    assert_eq!(get(&manager, "isSpeakerSelectionAvailable"), has_sink_id);
    let speakers = array(call(&manager, "getSpeakers", &[]).await.unwrap());
    let (on_speaker, speaker_events) = counter();
    call(
        &manager,
        "on",
        &["selectedSpeakerChanged".into(), on_speaker.into()],
    )
    .await
    .unwrap();
    match speakers.last() {
        Some(speaker) if has_sink_id => {
            call(&manager, "selectSpeaker", std::slice::from_ref(speaker))
                .await
                .unwrap();
            settle(0).await;
            assert_eq!(count(&speaker_events), 1.0);
        }
        // No setSinkId (Safari before 18): not supported (501); setSinkId but no speaker
        // listed (Firefox's fake devices): not a speaker it has (400). A typed refusal, no
        // event.
        _ => {
            let any = js_sys::JSON::parse(r#"{"id": "default", "name": "Speaker"}"#).unwrap();
            let err = call(&manager, "selectSpeaker", &[any]).await.unwrap_err();
            assert_eq!(get(&err, "name"), "CommunicationServicesError");
            let expected = if has_sink_id { 400 } else { 501 };
            assert_eq!(get(&err, "code"), expected);
            settle(0).await;
            assert_eq!(count(&speaker_events), 0.0);
        }
    }

    // A device that does not exist is refused with a coded error.
    let bogus = js_sys::JSON::parse(r#"{"id": "no-such-device", "name": "x"}"#).unwrap();
    let err = call(&manager, "selectMicrophone", &[bogus])
        .await
        .unwrap_err();
    assert_eq!(get(&err, "name"), "CommunicationServicesError");
    assert_eq!(get(&err, "code"), 400);
}

/// A local video stream's media stream and its video track.
async fn opened(stream: &JsValue) -> (web_sys::MediaStream, web_sys::MediaStreamTrack) {
    let media: web_sys::MediaStream = call(stream, "getMediaStream", &[])
        .await
        .unwrap()
        .unchecked_into();
    let track = media.get_video_tracks().get(0).unchecked_into();
    (media, track)
}

#[wasm_bindgen_test]
async fn a_local_video_stream_opens_its_camera_and_switches() {
    let manager = device_manager().await;
    let cameras = array(call(&manager, "getCameras", &[]).await.unwrap());
    let stream: JsValue = LocalVideoStream::new(cameras[0].clone()).unwrap().into();
    assert_eq!(get(&stream, "mediaStreamType"), "Video");
    assert_eq!(get(&get(&stream, "source"), "id"), get(&cameras[0], "id"));
    let (media, track) = opened(&stream).await;
    assert_eq!(track.ready_state(), web_sys::MediaStreamTrackState::Live);

    let (on_switch, switches) = counter();
    call(
        &stream,
        "on",
        &["videoSourceChanged".into(), on_switch.into()],
    )
    .await
    .unwrap();
    // With one camera (Firefox) it switches to the same one: the camera reopens all the same.
    let next = cameras.get(1).unwrap_or(&cameras[0]).clone();
    call(&stream, "switchSource", std::slice::from_ref(&next))
        .await
        .unwrap();
    settle(0).await;
    assert_eq!(count(&switches), 1.0);
    assert_eq!(get(&get(&stream, "source"), "id"), get(&next, "id"));

    // An app's own MediaStream is RawMedia.
    let raw: JsValue = LocalVideoStream::new(media.into()).unwrap().into();
    assert_eq!(get(&raw, "mediaStreamType"), "RawMedia");
}

#[wasm_bindgen_test]
async fn a_camera_listed_without_an_id_opens_the_default_camera() {
    // Before permission Firefox and Safari list each kind once with an empty id; an app that
    // picks that entry gets the default camera, not an unsatisfiable constraint.
    let unnamed =
        js_sys::JSON::parse(r#"{"id": "", "name": "", "deviceType": "UsbCamera"}"#).unwrap();
    let stream: JsValue = LocalVideoStream::new(unnamed).unwrap().into();
    let (_, track) = opened(&stream).await;
    assert_eq!(track.ready_state(), web_sys::MediaStreamTrackState::Live);
    track.stop();
}

#[wasm_bindgen_test]
async fn views_render_local_video_with_their_options_and_release_the_camera() {
    let manager = device_manager().await;
    let cameras = array(call(&manager, "getCameras", &[]).await.unwrap());
    let stream: JsValue = LocalVideoStream::new(cameras.last().unwrap().clone())
        .unwrap()
        .into();
    let renderer: JsValue = VideoStreamRenderer::new(stream.clone()).unwrap().into();
    let options = js_sys::JSON::parse(r#"{"isMirrored": true, "scalingMode": "Crop"}"#).unwrap();
    let view = call(&renderer, "createView", &[options]).await.unwrap();
    assert_eq!(get(&view, "isMirrored"), true);
    assert_eq!(get(&view, "scalingMode"), "Crop");
    let target: web_sys::HtmlElement = get(&view, "target").unchecked_into();
    web_sys::window()
        .unwrap()
        .document()
        .unwrap()
        .body()
        .unwrap()
        .append_child(&target)
        .unwrap();
    let video: web_sys::HtmlVideoElement = target
        .query_selector("video")
        .unwrap()
        .unwrap()
        .unchecked_into();
    assert_eq!(
        video.style().get_property_value("object-fit").unwrap(),
        "cover"
    );
    assert_eq!(
        video.style().get_property_value("transform").unwrap(),
        "scaleX(-1)"
    );
    // Frames are actually shown.
    for _ in 0..100 {
        if video.video_width() > 0 {
            break;
        }
        settle(50).await;
    }
    assert!(
        video.video_width() > 0,
        "the camera's frames reach the view"
    );

    call(&view, "updateScalingMode", &["Fit".into()])
        .await
        .unwrap();
    assert_eq!(
        video.style().get_property_value("object-fit").unwrap(),
        "contain"
    );
    let err = call(&view, "updateScalingMode", &["Zoom".into()])
        .await
        .unwrap_err();
    assert_eq!(get(&err, "code"), 400);

    let media: web_sys::MediaStream = video.src_object().unwrap().unchecked_into();
    let track: web_sys::MediaStreamTrack = media.get_video_tracks().get(0).unchecked_into();
    call(&renderer, "dispose", &[]).await.unwrap();
    assert!(target.parent_node().is_none(), "the view left the page");
    assert_eq!(
        track.ready_state(),
        web_sys::MediaStreamTrackState::Ended,
        "the camera closed with the last view"
    );
}

#[wasm_bindgen_test]
async fn bad_arguments_throw_coded_errors() {
    let check = |err: JsValue, code: u16| {
        assert!(err.is_instance_of::<js_sys::Error>());
        assert_eq!(get(&err, "name"), "CommunicationServicesError");
        assert_eq!(get(&err, "code"), code);
        assert!(get(&err, "subCode").as_f64().is_some());
    };
    check(
        LocalVideoStream::new(42.into())
            .map(|_| ())
            .unwrap_err()
            .into(),
        400,
    );
    check(
        VideoStreamRenderer::new(js_sys::Object::new().into())
            .map(|_| ())
            .unwrap_err()
            .into(),
        400,
    );
    let bad_options = js_sys::JSON::parse(
        r#"{"networkConfiguration": {"turn": {"iceServers": [{"username": "u"}]}}}"#,
    )
    .unwrap();
    check(
        CallClient::new(bad_options).map(|_| ()).unwrap_err().into(),
        400,
    );
    let client = CallClient::new(JsValue::UNDEFINED).unwrap();
    let not_a_credential = js_sys::Object::new();
    let err =
        JsFuture::from(client.js_create_call_agent(not_a_credential.into(), JsValue::UNDEFINED))
            .await
            .unwrap_err();
    check(err, 400);
}
