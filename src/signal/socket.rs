//! The WebSocket to rtcall-server's `/signal`, as an RAII handle: it calls back on open, on each
//! text message and on close (or failure to open); dropping it unhooks the callbacks and closes
//! the socket. Frames are read from the browser's own `JSON.parse` and written as text by
//! [`wire`](crate::engine::wire): no JSON library or serde in the wasm.

use crate::engine::wire::{read_frame, write_frame, Incoming, Json, Outgoing};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// A client frame as JSON text.
pub fn encode(frame: &Outgoing) -> String {
    write_frame(frame)
}

/// A server frame from JSON text; `None` if it is not one we can read (a newer server's
/// extension).
pub fn decode(text: &str) -> Option<Incoming> {
    read_frame(&Parsed(js_sys::JSON::parse(text).ok()?))
}

/// A value `JSON.parse` made.
struct Parsed(JsValue);

impl Json for Parsed {
    fn get(&self, name: &str) -> Option<Self> {
        if !self.0.is_object() {
            return None;
        }
        let value = js_sys::Reflect::get(&self.0, &name.into()).ok()?;
        (!value.is_undefined() && !value.is_null()).then_some(Parsed(value))
    }

    fn string(&self) -> Option<String> {
        self.0.as_string()
    }

    fn number(&self) -> Option<f64> {
        self.0.as_f64()
    }

    fn boolean(&self) -> Option<bool> {
        self.0.as_bool()
    }

    fn items(&self) -> Vec<Self> {
        match self.0.dyn_ref::<js_sys::Array>() {
            Some(array) => array.iter().map(Parsed).collect(),
            None => Vec::new(),
        }
    }

    fn tag(&self) -> Option<String> {
        if let Some(name) = self.0.as_string() {
            return Some(name);
        }
        let keys = js_sys::Object::keys(self.0.dyn_ref::<js_sys::Object>()?);
        (keys.length() == 1)
            .then(|| keys.get(0).as_string())
            .flatten()
    }

    fn text(&self) -> String {
        js_sys::JSON::stringify(&self.0)
            .ok()
            .and_then(|t| t.as_string())
            .unwrap_or_default()
    }
}

/// The signaling URL for a service URL (`http://host/` → `ws://host/signal`).
pub fn signal_url(service_url: &str) -> String {
    let base = if let Some(rest) = service_url.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = service_url.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        service_url.to_owned()
    };
    format!("{}/signal", base.trim_end_matches('/'))
}

/// An open (or opening) signaling socket.
#[must_use = "dropping the socket closes it"]
pub struct SignalSocket {
    ws: web_sys::WebSocket,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(web_sys::MessageEvent)>,
    _on_close: Closure<dyn FnMut()>,
}

impl std::fmt::Debug for SignalSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignalSocket").finish()
    }
}

impl SignalSocket {
    /// Opens `url`. `on_close` runs once, when the socket closes or fails to open.
    pub fn connect(
        url: &str,
        on_open: impl FnMut() + 'static,
        mut on_message: impl FnMut(String) + 'static,
        on_close: impl FnMut() + 'static,
    ) -> Result<Self, JsValue> {
        let ws = web_sys::WebSocket::new(url)?;
        let on_open = Closure::<dyn FnMut()>::new(on_open);
        let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
            move |event: web_sys::MessageEvent| {
                if let Some(text) = event.data().as_string() {
                    on_message(text);
                }
            },
        );
        let on_close = Closure::<dyn FnMut()>::new(on_close);
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        // An error is always followed by close; handling close alone covers both.
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(SignalSocket {
            ws,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        })
    }

    /// Sends a text frame (dropped if the socket is not open).
    pub fn send(&self, text: &str) {
        if self.ws.ready_state() == web_sys::WebSocket::OPEN {
            let _ = self.ws.send_with_str(text);
        }
    }
}

impl SignalSocket {
    /// Closes normally (code 1000): the service takes it for a goodbye.
    pub fn leave(self) {
        let _ = self.ws.close_with_code(1000);
    }
}

impl Drop for SignalSocket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        let _ = self.ws.close();
    }
}
