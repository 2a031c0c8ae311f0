//! Remote audio playback: one `<audio>` element per receiving audio line, playing without app
//! code. When the browser blocks autoplay, playback retries on the page's next user gesture.
//! Output goes to the selected speaker where the browser has `setSinkId`.

use std::cell::RefCell;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

thread_local! {
    /// Elements the browser refused to start, waiting for a gesture.
    static BLOCKED: RefCell<Vec<web_sys::HtmlAudioElement>> = const { RefCell::new(Vec::new()) };
    static GESTURE: RefCell<Option<Closure<dyn FnMut()>>> = const { RefCell::new(None) };
}

/// A remote audio track being played.
pub struct RemoteAudio {
    element: web_sys::HtmlAudioElement,
}

impl std::fmt::Debug for RemoteAudio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteAudio").finish()
    }
}

/// Whether the browser can route audio to a chosen output.
pub fn sink_selection_available() -> bool {
    web_sys::HtmlAudioElement::new()
        .ok()
        .is_some_and(|e| js_sys::Reflect::has(&e, &"setSinkId".into()).unwrap_or(false))
}

fn set_sink(element: &web_sys::HtmlAudioElement, sink: &str) {
    if let Ok(set_sink_id) = js_sys::Reflect::get(element, &"setSinkId".into()) {
        if let Some(f) = set_sink_id.dyn_ref::<js_sys::Function>() {
            // A rejected sink (unplugged device) leaves the current output in place.
            if let Ok(promise) = f.call1(element, &sink.into()) {
                if let Ok(promise) = promise.dyn_into::<js_sys::Promise>() {
                    super::settle(promise);
                }
            }
        }
    }
}

impl RemoteAudio {
    /// Starts playing `track`, on `sink` if given.
    pub fn play(track: &web_sys::MediaStreamTrack, sink: Option<&str>) -> Option<Self> {
        let element = web_sys::HtmlAudioElement::new().ok()?;
        let tracks = js_sys::Array::of1(track);
        let stream = web_sys::MediaStream::new_with_tracks(&tracks).ok()?;
        element.set_autoplay(true);
        element.set_src_object(Some(&stream));
        if let Some(sink) = sink {
            set_sink(&element, sink);
        }
        start(&element);
        Some(RemoteAudio { element })
    }

    /// Routes the audio to another output.
    pub fn set_sink(&self, sink: &str) {
        set_sink(&self.element, sink);
    }
}

impl Drop for RemoteAudio {
    fn drop(&mut self) {
        let _ = self.element.pause();
        self.element.set_src_object(None);
        BLOCKED.with(|b| b.borrow_mut().retain(|e| *e != self.element));
    }
}

/// Calls `play()`; if refused, queues the element for the next gesture.
fn start(element: &web_sys::HtmlAudioElement) {
    let Ok(promise) = element.play() else {
        return;
    };
    let blocked = element.clone();
    wasm_bindgen_futures::spawn_local(async move {
        if wasm_bindgen_futures::JsFuture::from(promise).await.is_err() {
            BLOCKED.with(|b| b.borrow_mut().push(blocked));
            listen_for_gesture();
        }
    });
}

fn listen_for_gesture() {
    GESTURE.with(|g| {
        let mut g = g.borrow_mut();
        if g.is_some() {
            return;
        }
        let closure = Closure::<dyn FnMut()>::new(|| {
            for element in BLOCKED.with(|b| std::mem::take(&mut *b.borrow_mut())) {
                start(&element);
            }
        });
        if let Some(document) = web_sys::window().and_then(|w| w.document()) {
            for event in ["pointerdown", "keydown", "touchend"] {
                let _ = document
                    .add_event_listener_with_callback(event, closure.as_ref().unchecked_ref());
            }
        }
        *g = Some(closure);
    });
}
