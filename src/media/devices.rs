//! Cameras, microphones and speakers: enumerating them, opening them, and stopping tracks.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// What a device is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    /// `videoinput`.
    Camera,
    /// `audioinput`.
    Microphone,
    /// `audiooutput`.
    Speaker,
}

/// A device as `enumerateDevices` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// `deviceId`.
    pub id: String,
    /// `label` (empty before permission is granted).
    pub name: String,
    /// What it is.
    pub kind: DeviceKind,
    /// The system's default for its kind.
    pub is_default: bool,
}

fn media_devices() -> Result<web_sys::MediaDevices, JsValue> {
    web_sys::window()
        .ok_or_else(|| JsValue::from_str("no window"))?
        .navigator()
        .media_devices()
}

/// Lists devices, each once. Chromium's pseudo-devices are left out: "communications", and
/// "default" where it stands for another entry (the same group), which is marked the default
/// instead; a "default" of its own (Chromium's fake devices) is kept and marked.
pub async fn enumerate() -> Result<Vec<Device>, JsValue> {
    let list = JsFuture::from(media_devices()?.enumerate_devices()?).await?;
    let infos: Vec<web_sys::MediaDeviceInfo> = js_sys::Array::from(&list)
        .iter()
        .map(JsCast::unchecked_into)
        .collect();
    // The groups "default" entries stand for, by kind.
    let defaults: Vec<(web_sys::MediaDeviceKind, String)> = infos
        .iter()
        .filter(|i| i.device_id() == "default")
        .map(|i| (i.kind(), i.group_id()))
        .collect();
    let aliased = |info: &web_sys::MediaDeviceInfo| {
        info.device_id() != "default"
            && defaults
                .iter()
                .any(|(kind, group)| *kind == info.kind() && *group == info.group_id())
    };
    let mut devices = Vec::new();
    for info in &infos {
        let kind = match info.kind() {
            web_sys::MediaDeviceKind::Videoinput => DeviceKind::Camera,
            web_sys::MediaDeviceKind::Audioinput => DeviceKind::Microphone,
            web_sys::MediaDeviceKind::Audiooutput => DeviceKind::Speaker,
            _ => continue,
        };
        let id = info.device_id();
        if id == "communications"
            || (id == "default"
                && infos
                    .iter()
                    .any(|other| aliased(other) && other.kind() == info.kind()))
        {
            continue;
        }
        devices.push(Device {
            is_default: id == "default" || aliased(info),
            name: info.label(),
            id,
            kind,
        });
    }
    // Without a "default" entry (Firefox, Safari), the first of each kind is the default.
    for kind in [
        DeviceKind::Camera,
        DeviceKind::Microphone,
        DeviceKind::Speaker,
    ] {
        if !devices.iter().any(|d| d.kind == kind && d.is_default) {
            if let Some(first) = devices.iter_mut().find(|d| d.kind == kind) {
                first.is_default = true;
            }
        }
    }
    Ok(devices)
}

/// The constraint that opens `device_id`. Before permission Firefox and Safari list each kind
/// once with an empty id (the spec's privacy rule): that entry stands for the default device,
/// and asking for it `exact` could never be satisfied.
fn constraint(device_id: Option<&str>) -> JsValue {
    match device_id {
        Some(id) if !id.is_empty() && id != "default" => {
            let exact = js_sys::Object::new();
            let _ = js_sys::Reflect::set(&exact, &"exact".into(), &id.into());
            let c = js_sys::Object::new();
            let _ = js_sys::Reflect::set(&c, &"deviceId".into(), &exact);
            c.into()
        }
        _ => JsValue::TRUE,
    }
}

/// Opens a microphone and/or camera (`None` leaves that kind out; `Some(None)` is the default
/// device).
pub async fn open(
    microphone: Option<Option<&str>>,
    camera: Option<Option<&str>>,
) -> Result<web_sys::MediaStream, JsValue> {
    let constraints = web_sys::MediaStreamConstraints::new();
    constraints.set_audio(&microphone.map_or(JsValue::FALSE, constraint));
    constraints.set_video(&camera.map_or(JsValue::FALSE, constraint));
    let stream =
        JsFuture::from(media_devices()?.get_user_media_with_constraints(&constraints)?).await?;
    Ok(stream.unchecked_into())
}

/// Opens one track: the microphone or the camera with this device id (or the default).
pub async fn open_track(
    kind: DeviceKind,
    device_id: Option<&str>,
) -> Result<web_sys::MediaStreamTrack, JsValue> {
    let stream = match kind {
        DeviceKind::Microphone => open(Some(device_id), None).await?,
        DeviceKind::Camera => open(None, Some(device_id)).await?,
        DeviceKind::Speaker => return Err("speakers have no track".into()),
    };
    first_track(&stream.get_tracks()).ok_or_else(|| JsValue::from_str("the device gave no track"))
}

/// Opens a microphone (by id, or the default) with the browser's own noise suppression on,
/// off, or as the browser likes (`None`): it is fixed when the track opens (Chrome ignores
/// `applyConstraints` for it).
pub async fn open_microphone(
    device_id: Option<&str>,
    noise_suppression: Option<bool>,
) -> Result<web_sys::MediaStreamTrack, JsValue> {
    let audio = match constraint(device_id) {
        c if c.is_object() => c,
        _ => js_sys::Object::new().into(),
    };
    if let Some(on) = noise_suppression {
        js_sys::Reflect::set(&audio, &"noiseSuppression".into(), &on.into())?;
    }
    let constraints = web_sys::MediaStreamConstraints::new();
    constraints.set_audio(&audio);
    let stream: web_sys::MediaStream =
        JsFuture::from(media_devices()?.get_user_media_with_constraints(&constraints)?)
            .await?
            .unchecked_into();
    first_track(&stream.get_audio_tracks())
        .ok_or_else(|| JsValue::from_str("the microphone gave no track"))
}

/// The first track of a list (`MediaStream.getAudioTracks()` and the like).
pub fn first_track(tracks: &js_sys::Array) -> Option<web_sys::MediaStreamTrack> {
    tracks.get(0).dyn_into().ok()
}

/// Stops every track of a stream.
pub fn stop_stream(stream: &web_sys::MediaStream) {
    for track in stream.get_tracks().iter() {
        track.unchecked_into::<web_sys::MediaStreamTrack>().stop();
    }
}

/// Listens for `devicechange`; the handle unhooks on drop.
pub struct DeviceChangeListener {
    closure: Closure<dyn FnMut()>,
}

impl DeviceChangeListener {
    /// Calls `callback` whenever devices are plugged or unplugged.
    pub fn new(callback: impl FnMut() + 'static) -> Option<Self> {
        let closure = Closure::<dyn FnMut()>::new(callback);
        media_devices()
            .ok()?
            .add_event_listener_with_callback("devicechange", closure.as_ref().unchecked_ref())
            .ok()?;
        Some(DeviceChangeListener { closure })
    }
}

impl Drop for DeviceChangeListener {
    fn drop(&mut self) {
        if let Ok(devices) = media_devices() {
            let _ = devices.remove_event_listener_with_callback(
                "devicechange",
                self.closure.as_ref().unchecked_ref(),
            );
        }
    }
}
