//! `DeviceManager`: cameras, microphones and speakers, which microphone and speaker calls use,
//! and switching them during calls (a new track in place of the old, no renegotiation).
//! Unplugging the selected device falls back to the system default.

use super::error::{ApiError, SubCode};
use super::events::{array, emitter_methods, object, Emitter};
use super::local_media::{LocalMedia, MicrophoneChoice};
use super::object::JsSelf;
use crate::api::promise::promise;
use crate::media::audio::sink_selection_available;
use crate::media::devices::{self, Device, DeviceChangeListener, DeviceKind};
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;

/// Device state shared by a `CallClient`, its `DeviceManager` and its calls.
#[derive(Default)]
pub struct DeviceState {
    devices: RefCell<Vec<Device>>,
    microphone: RefCell<Option<Device>>,
    speaker: RefCell<Option<Device>>,
    /// The local media of calls, which follow the chosen microphone and speaker.
    calls: RefCell<Vec<Weak<LocalMedia>>>,
    listener: RefCell<Option<DeviceChangeListener>>,
    emitter: Emitter,
    js: JsSelf,
}

fn info_js(device: &Device) -> JsValue {
    match device.kind {
        DeviceKind::Camera => object(&[
            ("id", device.id.as_str().into()),
            ("name", device.name.as_str().into()),
            ("deviceType", "UsbCamera".into()),
        ]),
        DeviceKind::Microphone | DeviceKind::Speaker => object(&[
            ("id", device.id.as_str().into()),
            ("name", device.name.as_str().into()),
            ("isSystemDefault", device.is_default.into()),
            (
                "deviceType",
                if device.kind == DeviceKind::Microphone {
                    "Microphone"
                } else {
                    "Speaker"
                }
                .into(),
            ),
        ]),
    }
}

impl MicrophoneChoice for DeviceState {
    fn microphone_id(&self) -> Option<String> {
        self.microphone.borrow().as_ref().map(|d| d.id.clone())
    }

    fn selected_microphone(&self) -> JsValue {
        let selected = self.microphone.borrow().clone().or_else(|| {
            self.of_kind(DeviceKind::Microphone)
                .into_iter()
                .find(|d| d.is_default)
        });
        selected.as_ref().map_or(JsValue::UNDEFINED, info_js)
    }
}

impl DeviceState {
    /// The selected speaker's id (`None`: the default).
    pub(crate) fn speaker_id(&self) -> Option<String> {
        self.speaker.borrow().as_ref().map(|d| d.id.clone())
    }

    /// Records a call's local media, so device changes reach it.
    pub(crate) fn add_call(&self, call: &Rc<LocalMedia>) {
        let mut calls = self.calls.borrow_mut();
        calls.retain(|c| c.strong_count() > 0);
        calls.push(Rc::downgrade(call));
    }

    /// Calls not over (an app may still hold an ended one).
    fn live_calls(&self) -> Vec<Rc<LocalMedia>> {
        self.calls
            .borrow()
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|media| media.is_live())
            .collect()
    }

    fn of_kind(&self, kind: DeviceKind) -> Vec<Device> {
        self.devices
            .borrow()
            .iter()
            .filter(|d| d.kind == kind)
            .cloned()
            .collect()
    }

    /// Re-reads the device list; fires the collection events of what was plugged or
    /// unplugged, and falls back to the default for a selected device that went away.
    async fn refresh(self: &Rc<Self>) -> Result<(), ApiError> {
        let fresh = devices::enumerate().await?;
        let old = std::mem::replace(&mut *self.devices.borrow_mut(), fresh.clone());
        let diff = |kinds: &[DeviceKind]| {
            let added: Vec<JsValue> = fresh
                .iter()
                .filter(|d| {
                    kinds.contains(&d.kind) && !old.iter().any(|o| o.id == d.id && o.kind == d.kind)
                })
                .map(info_js)
                .collect();
            let removed: Vec<JsValue> = old
                .iter()
                .filter(|o| {
                    kinds.contains(&o.kind)
                        && !fresh.iter().any(|d| d.id == o.id && d.kind == o.kind)
                })
                .map(info_js)
                .collect();
            (added, removed)
        };
        let (added, removed) = diff(&[DeviceKind::Camera]);
        self.emitter.updated("videoDevicesUpdated", added, removed);
        let (added, removed) = diff(&[DeviceKind::Microphone, DeviceKind::Speaker]);
        self.emitter.updated("audioDevicesUpdated", added, removed);
        let gone = |selected: &RefCell<Option<Device>>| {
            selected
                .borrow()
                .as_ref()
                .is_some_and(|s| !fresh.iter().any(|d| d.id == s.id && d.kind == s.kind))
        };
        if gone(&self.microphone) {
            let fallback = fresh
                .iter()
                .find(|d| d.kind == DeviceKind::Microphone && d.is_default)
                .cloned();
            self.use_microphone(fallback).await?;
        }
        if gone(&self.speaker) {
            let fallback = fresh
                .iter()
                .find(|d| d.kind == DeviceKind::Speaker && d.is_default)
                .cloned();
            self.use_speaker(fallback);
        }
        Ok(())
    }

    fn listen(self: &Rc<Self>) {
        if self.listener.borrow().is_some() {
            return;
        }
        let weak = Rc::downgrade(self);
        let listener = DeviceChangeListener::new(move || {
            let weak = weak.clone();
            wasm_bindgen_futures::spawn_local(async move {
                if let Some(this) = weak.upgrade() {
                    if let Err(e) = this.refresh().await {
                        web_sys::console::warn_1(
                            &format!("rtcall: cannot list devices: {e}").into(),
                        );
                    }
                }
            });
        });
        *self.listener.borrow_mut() = listener;
    }

    async fn use_microphone(self: &Rc<Self>, device: Option<Device>) -> Result<(), ApiError> {
        *self.microphone.borrow_mut() = device;
        self.emitter.changed("selectedMicrophoneChanged");
        // Calls sending an app's own audio keep it (the microphone applies after stopAudio).
        for call in self.live_calls() {
            call.follow_chosen_microphone().await?;
        }
        Ok(())
    }

    fn use_speaker(&self, device: Option<Device>) {
        let id = device
            .as_ref()
            .map_or_else(|| "default".to_owned(), |d| d.id.clone());
        *self.speaker.borrow_mut() = device;
        self.emitter.changed("selectedSpeakerChanged");
        for call in self.live_calls() {
            if let Some(peer) = call.peer.borrow().as_ref() {
                peer.set_sink(&id);
            }
        }
    }

    fn find(&self, info: &JsValue, kind: DeviceKind) -> Result<Device, ApiError> {
        let id = js_sys::Reflect::get(info, &"id".into())
            .ok()
            .and_then(|v| v.as_string())
            .ok_or_else(|| ApiError::invalid_argument("expected a device info with an id"))?;
        self.of_kind(kind)
            .into_iter()
            .find(|d| d.id == id)
            .ok_or_else(|| ApiError::invalid_argument(format!("no such device: {id}")))
    }
}

/// The device manager (`DeviceManager`).
#[wasm_bindgen]
#[derive(Clone)]
pub struct DeviceManager {
    pub(crate) inner: Rc<DeviceState>,
}

impl DeviceManager {
    /// The object's one JS wrapper, after the first device listing.
    pub(crate) async fn ready(state: Rc<DeviceState>) -> Result<JsValue, ApiError> {
        state.listen();
        if state.devices.borrow().is_empty() {
            state.refresh().await?;
        }
        let manager = DeviceManager { inner: state };
        Ok(manager.inner.js.get(|| manager.clone().into()))
    }

    fn list(&self, kind: DeviceKind) -> js_sys::Promise {
        let state = Rc::clone(&self.inner);
        promise(async move {
            state.refresh().await?;
            Ok(array(state.of_kind(kind).iter().map(info_js)))
        })
    }
}

#[wasm_bindgen]
impl DeviceManager {
    /// Cameras (`VideoDeviceInfo[]`).
    #[wasm_bindgen(js_name = getCameras, unchecked_return_type = "Promise<VideoDeviceInfo[]>")]
    pub fn get_cameras(&self) -> js_sys::Promise {
        self.list(DeviceKind::Camera)
    }

    /// Microphones (`AudioDeviceInfo[]`).
    #[wasm_bindgen(js_name = getMicrophones, unchecked_return_type = "Promise<AudioDeviceInfo[]>")]
    pub fn get_microphones(&self) -> js_sys::Promise {
        self.list(DeviceKind::Microphone)
    }

    /// Speakers (`AudioDeviceInfo[]`); empty where the browser cannot choose outputs.
    #[wasm_bindgen(js_name = getSpeakers, unchecked_return_type = "Promise<AudioDeviceInfo[]>")]
    pub fn get_speakers(&self) -> js_sys::Promise {
        self.list(DeviceKind::Speaker)
    }

    /// Whether speakers can be chosen (`setSinkId`).
    #[wasm_bindgen(getter, js_name = isSpeakerSelectionAvailable)]
    pub fn is_speaker_selection_available(&self) -> bool {
        sink_selection_available()
    }

    /// The microphone calls use.
    #[wasm_bindgen(getter, js_name = selectedMicrophone, unchecked_return_type = "AudioDeviceInfo | undefined")]
    pub fn selected_microphone(&self) -> JsValue {
        self.inner.selected_microphone()
    }

    /// The speaker calls play to.
    #[wasm_bindgen(getter, js_name = selectedSpeaker, unchecked_return_type = "AudioDeviceInfo | undefined")]
    pub fn selected_speaker(&self) -> JsValue {
        let selected = self.inner.speaker.borrow().clone().or_else(|| {
            self.inner
                .of_kind(DeviceKind::Speaker)
                .into_iter()
                .find(|d| d.is_default)
        });
        selected.as_ref().map_or(JsValue::UNDEFINED, info_js)
    }

    /// Selects the microphone; calls in progress switch to it.
    #[wasm_bindgen(js_name = selectMicrophone, unchecked_return_type = "Promise<void>")]
    pub fn select_microphone(
        &self,
        #[wasm_bindgen(unchecked_param_type = "AudioDeviceInfo")] device: JsValue,
    ) -> js_sys::Promise {
        let state = Rc::clone(&self.inner);
        promise(async move {
            let device = state.find(&device, DeviceKind::Microphone)?;
            state.use_microphone(Some(device)).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Selects the speaker; calls in progress switch to it.
    #[wasm_bindgen(js_name = selectSpeaker, unchecked_return_type = "Promise<void>")]
    pub fn select_speaker(
        &self,
        #[wasm_bindgen(unchecked_param_type = "AudioDeviceInfo")] device: JsValue,
    ) -> js_sys::Promise {
        let state = Rc::clone(&self.inner);
        promise(async move {
            if !sink_selection_available() {
                return Err(ApiError::new(
                    SubCode::NotSupported,
                    "this browser cannot choose the speaker",
                ));
            }
            let device = state.find(&device, DeviceKind::Speaker)?;
            state.use_speaker(Some(device));
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Asks for permission (`{audio, video}`); resolves with what was granted.
    #[wasm_bindgen(js_name = askDevicePermission, unchecked_return_type = "Promise<DeviceAccess>")]
    pub fn ask_device_permission(
        &self,
        #[wasm_bindgen(unchecked_param_type = "PermissionConstraints")] constraints: JsValue,
    ) -> js_sys::Promise {
        let state = Rc::clone(&self.inner);
        let want = |name: &str| {
            constraints.is_object()
                && js_sys::Reflect::get(&constraints, &name.into())
                    .unwrap_or(JsValue::UNDEFINED)
                    .is_truthy()
        };
        let (audio, video) = (want("audio"), want("video"));
        promise(async move {
            let mut granted = (false, false);
            for (kind, wanted) in [(DeviceKind::Microphone, audio), (DeviceKind::Camera, video)] {
                if !wanted {
                    continue;
                }
                if let Ok(track) = devices::open_track(kind, None).await {
                    track.stop();
                    match kind {
                        DeviceKind::Microphone => granted.0 = true,
                        _ => granted.1 = true,
                    }
                }
            }
            // Labels appear once permission is granted.
            let _ = state.refresh().await;
            Ok(object(&[
                ("audio", granted.0.into()),
                ("video", granted.1.into()),
            ]))
        })
    }
}

emitter_methods!(DeviceManager, "DeviceManager");
