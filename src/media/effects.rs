//! The microphone through rtcall's DSP: an AudioContext graph of the microphone, the
//! `rtcall-dsp` AudioWorklet (noise suppression, level, voice activity; `crates/dsp-worklet`)
//! and a destination whose track can be sent instead of the raw microphone. The worklet and
//! its wasm module load on first use only, so they never weigh on the library's start.

use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

thread_local! {
    /// Where the package's worklet script and module are (set by the package entry).
    static WORKLET_URLS: RefCell<Option<(String, String)>> = const { RefCell::new(None) };
    /// The compiled DSP module, shared by every processor on the page.
    static MODULE: RefCell<Option<js_sys::Promise>> = const { RefCell::new(None) };
}

/// Tells the library where `dsp-worklet.js` and `rtcall_dsp.wasm` are (the package entry calls
/// this with URLs next to itself).
#[wasm_bindgen(js_name = __rtcallSetAudioWorklet, skip_typescript)]
pub fn set_audio_worklet(script: String, module: String) {
    WORKLET_URLS.with(|urls| *urls.borrow_mut() = Some((script, module)));
}

/// Whether this browser can run the DSP worklet.
pub fn supported() -> bool {
    let global = js_sys::global();
    ["AudioWorkletNode", "WebAssembly"]
        .iter()
        .all(|name| js_sys::Reflect::has(&global, &(*name).into()).unwrap_or(false))
        && WORKLET_URLS.with(|urls| urls.borrow().is_some())
}

fn urls() -> Result<(String, String), JsValue> {
    WORKLET_URLS
        .with(|urls| urls.borrow().clone())
        .ok_or_else(|| "the audio worklet's location is unknown".into())
}

async fn module(url: &str) -> Result<JsValue, JsValue> {
    let promise = MODULE.with(|m| {
        m.borrow_mut()
            .get_or_insert_with(|| {
                let window = web_sys::window().expect("a window");
                js_sys::WebAssembly::compile_streaming(&window.fetch_with_str(url))
            })
            .clone()
    });
    let result = JsFuture::from(promise).await;
    if result.is_err() {
        // A failed load (offline, say) may succeed later.
        MODULE.with(|m| m.borrow_mut().take());
    }
    result
}

/// What the worklet last reported: the level (0–100) and whether someone speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Report {
    pub level: f32,
    pub speaking: bool,
}

/// One microphone's processing graph.
pub struct MicrophoneProcessor {
    context: web_sys::AudioContext,
    node: web_sys::AudioWorkletNode,
    output: web_sys::MediaStreamAudioDestinationNode,
    /// The graph's source and the track it listens to: a clone of the microphone's, so that it
    /// still hears the microphone while the call is muted (for "speaking while muted").
    input: RefCell<
        Option<(
            web_sys::MediaStreamAudioSourceNode,
            web_sys::MediaStreamTrack,
        )>,
    >,
    _on_message: Closure<dyn FnMut(web_sys::MessageEvent)>,
}

impl std::fmt::Debug for MicrophoneProcessor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MicrophoneProcessor").finish()
    }
}

impl MicrophoneProcessor {
    /// Loads the worklet (once per page) and starts processing `track`; `on_report` gets the
    /// worklet's reports, about ten a second.
    pub async fn new(
        track: &web_sys::MediaStreamTrack,
        on_report: impl Fn(Report) + 'static,
    ) -> Result<Rc<Self>, JsValue> {
        let (script, wasm) = urls()?;
        // 48 kHz: the DSP's frames are 10 ms at 48 kHz.
        let options = web_sys::AudioContextOptions::new();
        options.set_sample_rate(48_000.0);
        let context = web_sys::AudioContext::new_with_context_options(&options)?;
        let module = module(&wasm).await?;
        JsFuture::from(context.audio_worklet()?.add_module(&script)?).await?;
        let processor_options = js_sys::Object::new();
        js_sys::Reflect::set(&processor_options, &"module".into(), &module)?;
        let node_options = web_sys::AudioWorkletNodeOptions::new();
        node_options.set_processor_options(Some(&processor_options));
        let node =
            web_sys::AudioWorkletNode::new_with_options(&context, "rtcall-dsp", &node_options)?;
        let output = context.create_media_stream_destination()?;
        node.connect_with_audio_node(&output)?;
        let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
            move |event: web_sys::MessageEvent| {
                let data = event.data();
                let get = |key: &str| js_sys::Reflect::get(&data, &key.into()).ok();
                on_report(Report {
                    level: get("level").and_then(|v| v.as_f64()).unwrap_or(0.0) as f32,
                    speaking: get("speaking").and_then(|v| v.as_bool()).unwrap_or(false),
                });
            },
        );
        node.port()?
            .set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        // Made outside a user gesture (a call's start); resume in case the page had none.
        crate::media::settle(context.resume()?);
        let processor = Rc::new(MicrophoneProcessor {
            context,
            node,
            output,
            input: RefCell::new(None),
            _on_message: on_message,
        });
        processor.set_input(track)?;
        Ok(processor)
    }

    /// Processes this microphone track from now on (through a clone, which mute leaves on).
    pub fn set_input(&self, track: &web_sys::MediaStreamTrack) -> Result<(), JsValue> {
        self.stop_input();
        // The DOM's clone: a second track of the same capture, enabled on its own.
        let listened = track.clone();
        listened.set_enabled(true);
        let stream = web_sys::MediaStream::new_with_tracks(&js_sys::Array::of1(&listened))?;
        let source = self.context.create_media_stream_source(&stream)?;
        source.connect_with_audio_node(&self.node)?;
        *self.input.borrow_mut() = Some((source, listened));
        Ok(())
    }

    fn stop_input(&self) {
        if let Some((source, listened)) = self.input.borrow_mut().take() {
            let _ = source.disconnect();
            listened.stop();
        }
    }

    /// Whether the processed track carries sound (off while the call is muted).
    pub fn set_output_enabled(&self, enabled: bool) {
        if let Some(track) = self.track() {
            track.set_enabled(enabled);
        }
    }

    /// Noise suppression on or off, from the next 10 ms frame: the output track stays the same.
    pub fn set_noise_suppression(&self, on: bool) {
        let message = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&message, &"noiseSuppression".into(), &on.into());
        if let Ok(port) = self.node.port() {
            let _ = port.post_message(&message);
        }
    }

    /// The processed audio, to send.
    pub fn track(&self) -> Option<web_sys::MediaStreamTrack> {
        self.output
            .stream()
            .get_audio_tracks()
            .get(0)
            .dyn_into::<web_sys::MediaStreamTrack>()
            .ok()
    }
}

impl Drop for MicrophoneProcessor {
    fn drop(&mut self) {
        self.stop_input();
        if let Ok(port) = self.node.port() {
            port.set_onmessage(None);
        }
        let _ = self.context.close();
    }
}
