//! The WebSocket to rtcall-server's `/signal`, as an RAII handle: it calls back on open, on each
//! text message and on close (or failure to open); dropping it unhooks the callbacks and closes
//! the socket. Frames go through the browser's own JSON (no JSON library in the wasm).

use rtcall_protocol::signal::{ClientFrame, ServerFrame};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// A client frame as JSON text, with the browser's `JSON.stringify` (no JSON library in the
/// wasm).
pub fn encode(frame: &ClientFrame) -> Option<String> {
    let value = frame
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .ok()?;
    js_sys::JSON::stringify(&value).ok()?.as_string()
}

/// A server frame from JSON text, with the browser's `JSON.parse`; `None` if it is not one we
/// can read (a newer server's extension).
pub fn decode(text: &str) -> Option<ServerFrame> {
    let value = js_sys::JSON::parse(text).ok()?;
    serde_wasm_bindgen::from_value(value).ok()
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
