//! Screen capture: the browser's picker (`getDisplayMedia`) asked for what suits shared
//! content, the sender settings that keep text sharp, and mixing a tab's audio into the
//! microphone's line.

use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// The largest capture asked for: full HD, never scaled below the source up to it.
const MAX_WIDTH: u32 = 1920;
const MAX_HEIGHT: u32 = 1080;

/// How shared content is sent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScreenProfile {
    /// Frames per second at most.
    pub max_framerate: u32,
    /// Bits per second at most.
    pub max_bitrate: u32,
    /// `MediaStreamTrack.contentHint`.
    pub content_hint: &'static str,
    /// `RTCRtpSendParameters.degradationPreference` when bandwidth is short.
    pub degradation: &'static str,
}

/// Text and slides: full resolution at a low frame rate; under pressure the frame rate drops,
/// never the resolution.
pub const DETAIL: ScreenProfile = ScreenProfile {
    max_framerate: 15,
    max_bitrate: 2_500_000,
    content_hint: "detail",
    degradation: "maintain-resolution",
};

/// Video and animation: smooth motion first.
pub const MOTION: ScreenProfile = ScreenProfile {
    max_framerate: 30,
    max_bitrate: 4_000_000,
    content_hint: "motion",
    degradation: "maintain-framerate",
};

impl ScreenProfile {
    /// The profile a track was captured for, by its content hint.
    pub fn of(track: &web_sys::MediaStreamTrack) -> Self {
        let hint = Reflect::get(track, &"contentHint".into())
            .ok()
            .and_then(|h| h.as_string());
        if hint.as_deref() == Some(MOTION.content_hint) {
            MOTION
        } else {
            DETAIL
        }
    }
}

/// What to ask the picker for.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureRequest {
    /// The surface offered first (`monitor`, `window` or `browser`).
    pub surface: Option<String>,
    /// Ask for the tab's or system's audio too.
    pub audio: bool,
    /// How the content is sent.
    pub profile: ScreenProfile,
}

fn set(target: &Object, key: &str, value: impl Into<JsValue>) {
    // Setting a property on a plain object cannot fail.
    let _ = Reflect::set(target, &key.into(), &value.into());
}

fn at_most(max: u32) -> Object {
    let range = Object::new();
    set(&range, "max", max);
    range
}

/// Opens the browser's picker; resolves with what the user chose (a video track, and an
/// audio track if asked for and offered). Rejects with the browser's error when the user
/// cancels or the page may not capture.
pub async fn capture(request: &CaptureRequest) -> Result<web_sys::MediaStream, JsValue> {
    let devices = web_sys::window()
        .ok_or_else(|| JsValue::from_str("no window"))?
        .navigator()
        .media_devices()?;
    let get_display_media = Reflect::get(&devices, &"getDisplayMedia".into())?
        .dyn_into::<js_sys::Function>()
        .map_err(|_| JsValue::from_str("this browser cannot share the screen"))?;
    let video = Object::new();
    set(&video, "width", at_most(MAX_WIDTH));
    set(&video, "height", at_most(MAX_HEIGHT));
    set(&video, "frameRate", at_most(request.profile.max_framerate));
    if let Some(surface) = &request.surface {
        set(&video, "displaySurface", surface.as_str());
    }
    let constraints = Object::new();
    set(&constraints, "video", video);
    set(&constraints, "audio", request.audio);
    // Sharing the calling tab itself shows the call inside the call.
    set(&constraints, "selfBrowserSurface", "exclude");
    set(&constraints, "surfaceSwitching", "include");
    let promise = get_display_media
        .call1(&devices, &constraints)?
        .dyn_into::<js_sys::Promise>()?;
    let stream: web_sys::MediaStream = JsFuture::from(promise).await?.unchecked_into();
    for track in stream.get_video_tracks().iter() {
        set(
            track.unchecked_ref(),
            "contentHint",
            request.profile.content_hint,
        );
    }
    Ok(stream)
}

/// Applies a screen profile to the sender of a negotiated line: frame rate and bitrate caps,
/// no downscaling, and what to give up under congestion.
pub fn tune_sender(sender: &web_sys::RtcRtpSender, profile: ScreenProfile) {
    // getParameters/setParameters through Reflect: web-sys has no bindings for them.
    let call = |name: &str, arg: Option<&JsValue>| -> Result<JsValue, JsValue> {
        let f: js_sys::Function = Reflect::get(sender, &name.into())?.dyn_into()?;
        match arg {
            Some(arg) => f.call1(sender, arg),
            None => f.call0(sender),
        }
    };
    let Ok(params) = call("getParameters", None) else {
        return;
    };
    let params: Object = params.unchecked_into();
    set(&params, "degradationPreference", profile.degradation);
    if let Ok(encodings) = Reflect::get(&params, &"encodings".into()) {
        for encoding in js_sys::Array::from(&encodings).iter() {
            let encoding: Object = encoding.unchecked_into();
            set(&encoding, "maxFramerate", profile.max_framerate);
            set(&encoding, "maxBitrate", profile.max_bitrate);
            set(&encoding, "scaleResolutionDownBy", 1.0);
        }
    }
    let applied =
        call("setParameters", Some(&params)).and_then(|p| p.dyn_into::<js_sys::Promise>());
    wasm_bindgen_futures::spawn_local(async move {
        let result = match applied {
            Ok(promise) => JsFuture::from(promise).await.map(drop),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            web_sys::console::warn_2(&"rtcall: cannot tune the screen share sender".into(), &e);
        }
    });
}

/// The microphone and a shared tab's audio mixed into one track for the call's one audio
/// line. Muting disables the microphone's track, so the shared audio goes on.
pub struct AudioMix {
    context: web_sys::AudioContext,
    output: web_sys::MediaStreamAudioDestinationNode,
    /// Kept connected while the mix lives.
    _shared: web_sys::MediaStreamAudioSourceNode,
    microphone: std::cell::RefCell<Option<web_sys::MediaStreamAudioSourceNode>>,
}

impl std::fmt::Debug for AudioMix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioMix").finish()
    }
}

fn source_of(
    context: &web_sys::AudioContext,
    track: &web_sys::MediaStreamTrack,
) -> Result<web_sys::MediaStreamAudioSourceNode, JsValue> {
    let stream = web_sys::MediaStream::new_with_tracks(&js_sys::Array::of1(track))?;
    context.create_media_stream_source(&stream)
}

impl AudioMix {
    /// A mix of `shared` (and a microphone, once set).
    pub fn new(shared: &web_sys::MediaStreamTrack) -> Result<Self, JsValue> {
        let context = web_sys::AudioContext::new()?;
        let output = context.create_media_stream_destination()?;
        let shared_node = source_of(&context, shared)?;
        shared_node.connect_with_audio_node(&output)?;
        // Started from the user's click on "share"; resume in case the page had no gesture.
        let _ = context.resume();
        Ok(AudioMix {
            context,
            output,
            _shared: shared_node,
            microphone: std::cell::RefCell::new(None),
        })
    }

    /// Mixes in this microphone track instead of the previous one.
    pub fn set_microphone(&self, track: Option<&web_sys::MediaStreamTrack>) {
        if let Some(old) = self.microphone.borrow_mut().take() {
            let _ = old.disconnect();
        }
        let Some(track) = track else { return };
        match source_of(&self.context, track)
            .and_then(|node| node.connect_with_audio_node(&self.output).map(|_| node))
        {
            Ok(node) => *self.microphone.borrow_mut() = Some(node),
            Err(e) => web_sys::console::warn_2(
                &"rtcall: cannot mix the microphone with the shared audio".into(),
                &e,
            ),
        }
    }

    /// The mixed track to send.
    pub fn track(&self) -> Option<web_sys::MediaStreamTrack> {
        self.output
            .stream()
            .get_audio_tracks()
            .get(0)
            .dyn_into()
            .ok()
    }
}

impl Drop for AudioMix {
    fn drop(&mut self) {
        let _ = self.context.close();
    }
}
