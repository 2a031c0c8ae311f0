//! The call's network, watched: every second its media connection's statistics and the agent's
//! connection go to the engine's [`NetworkMonitor`], whose judgement becomes the
//! `UserFacingDiagnostics` network diagnostics and the ICE restarts asked of the service. The
//! browser's `offline`/`online` events raise and clear `noNetwork`; coming back online, or the
//! device's connection changing, restarts ICE.

use super::{Call, CallInner};
use crate::api::diagnostics::{UserFacingDiagnosticsFeature, Value};
use crate::api::features::one;
use crate::engine::agent::ConnectionState;
use crate::engine::network::{Ice, NetworkMonitor, Sample};
use crate::media::stats::reports;
use rtcall_protocol::call::CallState;
use rtcall_protocol::signal::Request;
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;

/// How often the connection is sampled.
const SAMPLE_EVERY_MS: u32 = 1000;

/// A browser event listened to: where, which, and the listener.
type Listener = (web_sys::EventTarget, &'static str, Closure<dyn FnMut()>);

/// A call's network watch: the monitor, its timer and the browser events it listens to.
#[derive(Default)]
pub(crate) struct NetworkWatch {
    monitor: RefCell<NetworkMonitor>,
    timer: RefCell<Option<gloo_timers::callback::Interval>>,
    listeners: RefCell<Vec<Listener>>,
}

impl Call {
    /// Starts watching the call's network (until [`Call::close`]).
    pub(crate) fn watch_network(&self) {
        let weak = Rc::downgrade(&self.inner);
        let timer = gloo_timers::callback::Interval::new(SAMPLE_EVERY_MS, move || {
            let weak = weak.clone();
            wasm_bindgen_futures::spawn_local(async move {
                if let Some(inner) = weak.upgrade() {
                    Call { inner }.sample_network().await;
                }
            });
        });
        *self.inner.network.timer.borrow_mut() = Some(timer);
        let Some(window) = web_sys::window() else {
            return;
        };
        let connection = js_sys::Reflect::get(&window.navigator(), &"connection".into())
            .ok()
            .filter(|c| c.is_object())
            .map(JsCast::unchecked_into::<web_sys::EventTarget>);
        let window: web_sys::EventTarget = window.into();
        self.listen(&window, "offline", |call| call.set_no_network(true));
        self.listen(&window, "online", |call| {
            call.set_no_network(false);
            call.inner.network.monitor.borrow_mut().network_changed();
        });
        if let Some(connection) = connection {
            self.listen(&connection, "change", |call| {
                call.inner.network.monitor.borrow_mut().network_changed();
            });
        }
    }

    fn listen(&self, target: &web_sys::EventTarget, event: &'static str, act: fn(&Call)) {
        let weak: Weak<CallInner> = Rc::downgrade(&self.inner);
        let closure = Closure::<dyn FnMut()>::new(move || {
            if let Some(inner) = weak.upgrade() {
                act(&Call { inner });
            }
        });
        if target
            .add_event_listener_with_callback(event, closure.as_ref().unchecked_ref())
            .is_ok()
        {
            self.inner
                .network
                .listeners
                .borrow_mut()
                .push((target.clone(), event, closure));
        }
    }

    /// Stops watching.
    pub(super) fn stop_watching_network(&self) {
        self.inner.network.timer.borrow_mut().take();
        for (target, event, closure) in self.inner.network.listeners.borrow_mut().drain(..) {
            let _ =
                target.remove_event_listener_with_callback(event, closure.as_ref().unchecked_ref());
        }
    }

    /// The call has a new media connection: its counters start over.
    pub(crate) fn media_reconnected(&self) {
        self.inner.network.monitor.borrow_mut().new_connection();
    }

    fn diagnostics(&self) -> UserFacingDiagnosticsFeature {
        one(
            &self.inner.media.diagnostics,
            UserFacingDiagnosticsFeature::new,
        )
    }

    fn set_no_network(&self, offline: bool) {
        self.diagnostics()
            .network_group()
            .set("noNetwork", Value::Flag(offline));
    }

    /// One sample: statistics in, diagnostics and restarts out.
    async fn sample_network(&self) {
        // On hold nothing is meant to flow.
        if self.inner.state.get() != CallState::Connected {
            return;
        }
        let (Some(pc), Some(driver)) = (self.peer_connection(), self.inner.driver.upgrade()) else {
            return;
        };
        let ice = match js_sys::Reflect::get(&pc, &"iceConnectionState".into())
            .ok()
            .and_then(|s| s.as_string())
            .as_deref()
        {
            Some("connected" | "completed") => Ice::Connected,
            Some("disconnected") => Ice::Disconnected,
            Some("failed") => Ice::Failed,
            _ => Ice::Connecting,
        };
        let mut sample = Sample {
            signaling: driver.read(|engine| engine.connection_state())
                == ConnectionState::Connected,
            ice,
            bytes_received: 0,
            received: 0,
            lost: 0,
            send_loss: None,
        };
        let count = |n: Option<f64>| n.unwrap_or(0.0).max(0.0) as u64;
        for report in reports(&pc).await {
            if report.is("transport", None) {
                sample.bytes_received += count(report.number("bytesReceived"));
            } else if report.is("inbound-rtp", None) {
                sample.received += count(report.number("packetsReceived"));
                sample.lost += count(report.number("packetsLost"));
            } else if report.is("remote-inbound-rtp", None) {
                if let Some(lost) = report.number("fractionLost") {
                    sample.send_loss = Some(sample.send_loss.unwrap_or(0.0).max(lost));
                }
            }
        }
        let verdict = self
            .inner
            .network
            .monitor
            .borrow_mut()
            .sample(js_sys::Date::now() as u64, sample);
        let diagnostics = self.diagnostics();
        for (name, quality) in verdict.changes {
            diagnostics
                .network_group()
                .set(name, Value::Quality(quality));
        }
        if verdict.restart_ice {
            driver.request(Request::RestartIce {
                call_id: self.inner.id.clone(),
            });
        }
    }
}
