//! Screen sharing from a call: `startScreenSharing` opens the browser's picker and sends what
//! the user chose on the call's screen line (alongside the camera); the share shows in
//! `localVideoStreams` as a `LocalVideoStream` of type `'ScreenSharing'` for a preview. A share
//! ends through `stopScreenSharing`, the browser's own "Stop sharing" button (the track ends),
//! or the call ending; each way the same state and events follow.

use super::{Call, CallInner};
use crate::api::error::{ApiError, SubCode};
use crate::api::streams::LocalVideoStream;
use crate::media::peer::{replaced, SendSource};
use crate::media::screen::{self, AudioMix, CaptureRequest, DETAIL, MOTION};
use rtcall_protocol::signal::VideoSource;
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// A share under way.
pub(crate) struct ScreenShare {
    stream: LocalVideoStream,
    /// The object handed out in `localVideoStreams`.
    pub(crate) js: JsValue,
    track: web_sys::MediaStreamTrack,
    /// The shared tab's audio, mixed into the microphone's line (the call's media holds the
    /// mix).
    audio: Option<web_sys::MediaStreamTrack>,
    /// Listens for the track ending (the browser's "Stop sharing").
    on_ended: Closure<dyn FnMut()>,
}

impl ScreenShare {
    /// Stops capturing. Returns the microphone's line to the plain microphone if tab audio
    /// was mixed in; the returned promises settle once the call's lines have the new tracks.
    fn end(self, call: &CallInner) -> Vec<js_sys::Promise> {
        let _ = self
            .track
            .remove_event_listener_with_callback("ended", self.on_ended.as_ref().unchecked_ref());
        self.stream.end();
        self.stream.release();
        let media = &call.media;
        let mut pending = Vec::new();
        pending.extend(media.set_track(SendSource::Screen, None));
        if let Some(track) = &self.audio {
            track.stop();
            media.mix.borrow_mut().take();
            let microphone = media
                .microphone
                .borrow()
                .as_ref()
                .map(|raw| media.outgoing(raw));
            pending.extend(media.set_track(SendSource::Microphone, microphone));
        }
        pending
    }
}

/// `startScreenSharing` options (an rtcall extension; ACS takes none): `displaySurface`
/// (`'monitor'`, `'window'` or `'browser'`, offered first in the picker), `audio` (share the
/// tab's audio where the browser offers it), `contentHint` (`'detail'`, the default, keeps
/// text sharp; `'motion'` keeps video smooth).
fn capture_request(options: &JsValue) -> Result<CaptureRequest, ApiError> {
    let get = |key: &str| {
        if options.is_object() {
            js_sys::Reflect::get(options, &key.into()).unwrap_or(JsValue::UNDEFINED)
        } else {
            JsValue::UNDEFINED
        }
    };
    let surface = match get("displaySurface") {
        v if v.is_undefined() => None,
        v => match v.as_string().as_deref() {
            Some(s @ ("monitor" | "window" | "browser")) => Some(s.to_owned()),
            _ => {
                return Err(ApiError::invalid_argument(
                    "displaySurface must be 'monitor', 'window' or 'browser'",
                ))
            }
        },
    };
    let profile = match get("contentHint") {
        v if v.is_undefined() => DETAIL,
        v => match v.as_string().as_deref() {
            Some("detail" | "text") => DETAIL,
            Some("motion") => MOTION,
            _ => {
                return Err(ApiError::invalid_argument(
                    "contentHint must be 'detail' or 'motion'",
                ))
            }
        },
    };
    Ok(CaptureRequest {
        surface,
        audio: get("audio").is_truthy(),
        profile,
    })
}

/// The picker's failure as an API error: the user cancelling (or the page not being allowed
/// to capture) is a permission error, and so is asking outside a user gesture (Firefox says
/// InvalidStateError, Safari InvalidAccessError; Chromium does not require one); anything else
/// a device failure.
fn picker_error(e: &JsValue) -> ApiError {
    let name = js_sys::Reflect::get(e, &"name".into())
        .ok()
        .and_then(|n| n.as_string())
        .unwrap_or_default();
    if name == "NotAllowedError" {
        ApiError::from_js(
            SubCode::PermissionDenied,
            "screen sharing was cancelled or not allowed",
            e,
        )
    } else if name == "InvalidStateError" || name == "InvalidAccessError" {
        ApiError::from_js(
            SubCode::PermissionDenied,
            "this browser shares the screen only from a user gesture: call startScreenSharing() in a click handler",
            e,
        )
    } else {
        ApiError::from_js(SubCode::DeviceFailed, "cannot share the screen", e)
    }
}

impl Call {
    /// Opens the picker and shares what the user chooses.
    pub async fn start_screen_sharing(&self, options: JsValue) -> Result<(), ApiError> {
        self.check_active()?;
        let request = capture_request(&options)?;
        if self.inner.screen.borrow().is_some() {
            return Err(ApiError::new(
                SubCode::WrongState,
                "the screen is being shared already",
            ));
        }
        let stream = screen::capture(&request)
            .await
            .map_err(|e| picker_error(&e))?;
        let stop_all = || {
            for track in stream.get_tracks().iter() {
                track.unchecked_into::<web_sys::MediaStreamTrack>().stop();
            }
        };
        // The call may have ended, or another share started, while the picker was open.
        if let Err(e) = self.check_active() {
            stop_all();
            return Err(e);
        }
        if self.inner.screen.borrow().is_some() {
            stop_all();
            return Err(ApiError::new(
                SubCode::WrongState,
                "the screen is being shared already",
            ));
        }
        let Ok(track) = stream
            .get_video_tracks()
            .get(0)
            .dyn_into::<web_sys::MediaStreamTrack>()
        else {
            stop_all();
            return Err(ApiError::new(
                SubCode::DeviceFailed,
                "the browser shared no video",
            ));
        };
        let media = &self.inner.media;
        let audio = if request.audio {
            stream
                .get_audio_tracks()
                .get(0)
                .dyn_into::<web_sys::MediaStreamTrack>()
                .ok()
                .and_then(|shared| match AudioMix::new(&shared) {
                    Ok(mix) => {
                        let microphone = media
                            .microphone
                            .borrow()
                            .as_ref()
                            .map(|raw| media.outgoing(raw));
                        mix.set_microphone(microphone.as_ref());
                        Some((shared, mix))
                    }
                    Err(e) => {
                        web_sys::console::warn_2(
                            &"rtcall: cannot mix the shared audio; sharing video only".into(),
                            &e,
                        );
                        shared.stop();
                        None
                    }
                })
        } else {
            None
        };
        let on_ended = ended_listener(Rc::downgrade(&self.inner));
        track.add_event_listener_with_callback("ended", on_ended.as_ref().unchecked_ref())?;
        let local = LocalVideoStream::screen(stream, Clone::clone(&track));
        let js = JsValue::from(local.clone());
        let mut pending = Vec::new();
        pending.extend(media.set_track(SendSource::Screen, Some(Clone::clone(&track))));
        let audio = audio.map(|(shared, mix)| {
            pending.extend(media.set_track(SendSource::Microphone, mix.track()));
            *media.mix.borrow_mut() = Some(mix);
            shared
        });
        *self.inner.screen.borrow_mut() = Some(ScreenShare {
            stream: local,
            js: js.clone(),
            track,
            audio,
            on_ended,
        });
        for promise in pending {
            replaced(Some(promise)).await;
        }
        self.inner.emitter.changed("isScreenSharingOnChanged");
        self.inner
            .emitter
            .updated("localVideoStreamsUpdated", vec![js], Vec::new());
        self.set_video(VideoSource::Screen, true).await
    }

    /// Stops sharing. `Err` if nothing is shared.
    pub async fn stop_screen_sharing(&self) -> Result<(), ApiError> {
        // The share is over for the app (events fired) whatever the server says next.
        if !self.end_screen_share() {
            return Err(ApiError::new(
                SubCode::WrongState,
                "the screen is not being shared",
            ));
        }
        if self.check_active().is_err() {
            return Ok(());
        }
        self.set_video(VideoSource::Screen, false).await
    }

    /// Ends the share if there is one: capture stops, lines change, events fire. Returns
    /// whether there was one.
    pub(crate) fn end_screen_share(&self) -> bool {
        let Some(share) = self.inner.screen.borrow_mut().take() else {
            return false;
        };
        let js = share.js.clone();
        for promise in share.end(&self.inner) {
            wasm_bindgen_futures::spawn_local(replaced(Some(promise)));
        }
        self.inner.emitter.changed("isScreenSharingOnChanged");
        self.inner
            .emitter
            .updated("localVideoStreamsUpdated", Vec::new(), vec![js]);
        true
    }
}

/// The track's `ended` listener: the user stopped sharing from the browser's own UI. It only
/// schedules the stop (the stop drops this very closure).
fn ended_listener(call: Weak<CallInner>) -> Closure<dyn FnMut()> {
    Closure::new(move || {
        let call = call.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if let Some(inner) = call.upgrade() {
                let _ = Call { inner }.stop_screen_sharing().await;
            }
        });
    })
}
