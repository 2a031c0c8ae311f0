//! The [`Driver`]: the shell that runs one identity's sans-IO [`Agent`] in the page. It does
//! what the engine's outputs ask — fetch a fresh token and open the WebSocket, send frames,
//! close, wait — and feeds back what happens: the socket opening, frames, the socket closing,
//! the timer firing. Requests get their replies through [`Driver::wait`]; every other engine
//! event goes to the [`DriverEvents`] of the API objects, after the engine's borrow is released.
//!
//! Socket and timer callbacks never run the engine themselves: they spawn a task, so nothing is
//! dropped while its own callback is on the stack.
//!
//! The engine lives in a [`Recoverable`] cell: after a panic inside it, the driver's next step
//! (run at once by [`fault::on_panic`]) has the engine [`recover`](Agent::recover) — the call
//! it was changing ends, the rest goes on.

use super::socket::{decode, encode, signal_url, SignalSocket};
use crate::engine::agent::Request;
use crate::engine::agent::{Agent, AgentEvent, Output};
use crate::fault::{self, Recoverable};
use crate::time::{Clock, SystemClock, Timer};
use futures_channel::oneshot;
use rtcall_protocol::signal::{ErrorKind, Reply, RequestId, WireError};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// Who hears a driver's engine events (the call agent).
pub trait DriverEvents {
    /// An event of the engine's. It may call back into the driver.
    fn handle(self: Rc<Self>, driver: &Rc<Driver>, event: AgentEvent);
}

/// A running engine: see the module docs.
pub struct Driver {
    engine: Recoverable<Agent>,
    /// The app's credential: its `getToken()` gives the token each connection starts with.
    credential: JsValue,
    service_url: String,
    clock: Rc<dyn Clock>,
    socket: RefCell<Option<SignalSocket>>,
    timer: RefCell<Option<Timer>>,
    replies: RefCell<HashMap<RequestId, oneshot::Sender<Result<Reply, WireError>>>>,
    events: Weak<dyn DriverEvents>,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("service_url", &self.service_url)
            .finish_non_exhaustive()
    }
}

impl Driver {
    /// A driver for `display_name` on `service_url`, not started yet; its events go to
    /// `events`.
    pub fn new(
        credential: JsValue,
        service_url: String,
        display_name: String,
        events: Weak<dyn DriverEvents>,
    ) -> Rc<Driver> {
        let clock: Rc<dyn Clock> = Rc::new(SystemClock);
        let driver = Rc::new(Driver {
            engine: Recoverable::new(Agent::new(display_name, clock.now_ms())),
            credential,
            service_url,
            clock,
            socket: RefCell::new(None),
            timer: RefCell::new(None),
            replies: RefCell::default(),
            events,
        });
        let weak = Rc::downgrade(&driver);
        fault::on_panic(move || weak.upgrade().map(|this| Self::pump(&this)).is_some());
        driver
    }

    /// Starts: the engine connects.
    pub fn start(self: &Rc<Self>) {
        Self::pump(self);
    }

    /// Reads the engine.
    pub fn read<R>(&self, read: impl FnOnce(&Agent) -> R) -> R {
        self.prepare(|engine| read(engine))
    }

    /// Changes the engine (a request, a call started, …), then does what it asks.
    pub fn update<R>(self: &Rc<Self>, change: impl FnOnce(&mut Agent) -> R) -> R {
        let result = self.prepare(change);
        Self::pump(self);
        result
    }

    /// Sends a request whose reply nobody waits for (it is logged if refused).
    pub fn request(self: &Rc<Self>, request: Request) -> RequestId {
        self.update(|engine| engine.request(request))
    }

    /// Sends a request and waits for the service's answer; `None` if the driver went first.
    pub async fn send(self: &Rc<Self>, request: Request) -> Option<Result<Reply, WireError>> {
        let id = self.prepare(|engine| engine.request(request));
        self.wait(id).await
    }

    /// Changes the engine (a request whose answer [`Driver::wait`] then waits for) without
    /// running it yet: the waiter must be in place first, or an answer the engine gives at once
    /// would be lost. `change` must not call out to JavaScript (see [`Recoverable`]).
    pub fn prepare<R>(&self, change: impl FnOnce(&mut Agent) -> R) -> R {
        self.engine.with(|engine, cut_short| {
            if cut_short {
                engine.recover();
            }
            change(engine)
        })
    }

    /// Runs the engine and waits for the service's answer to request `id`, made with
    /// [`Driver::prepare`]; `None` if the driver went first.
    pub async fn wait(self: &Rc<Self>, id: RequestId) -> Option<Result<Reply, WireError>> {
        let (tx, rx) = oneshot::channel();
        self.replies.borrow_mut().insert(id, tx);
        Self::pump(self);
        rx.await.ok()
    }

    /// Drains the engine: does what it asks until it wants time.
    fn pump(this: &Rc<Self>) {
        loop {
            let output = this.prepare(Agent::poll_output);
            match output {
                Output::Connect => Self::connect(this),
                Output::Send(frame) => {
                    if let Some(socket) = this.socket.borrow().as_ref() {
                        socket.send(&encode(&frame));
                    }
                }
                Output::Close => {
                    let socket = this.socket.borrow_mut().take();
                    defer_drop(socket);
                }
                Output::Leave => {
                    if let Some(socket) = this.socket.borrow_mut().take() {
                        socket.leave();
                    }
                }
                Output::Event(event) => Self::dispatch(this, event),
                Output::Timeout(at) => {
                    let timer = (at != u64::MAX).then(|| {
                        let delay = at.saturating_sub(this.clock.now_ms());
                        this.clock.start_timer(
                            delay,
                            Self::later(this, |this, now| {
                                this.prepare(|engine| engine.handle_timeout(now))
                            }),
                        )
                    });
                    let old = std::mem::replace(&mut *this.timer.borrow_mut(), timer);
                    drop(old);
                    break;
                }
            }
        }
    }

    /// A callback that, in a task of its own, gives the engine something at the time it runs
    /// (if the driver is still there), then pumps.
    fn later(this: &Rc<Self>, input: impl FnOnce(&Rc<Self>, u64) + 'static) -> Box<dyn FnOnce()> {
        let weak = Rc::downgrade(this);
        Box::new(move || {
            wasm_bindgen_futures::spawn_local(async move {
                if let Some(this) = weak.upgrade() {
                    let now = this.clock.now_ms();
                    input(&this, now);
                    Self::pump(&this);
                }
            });
        })
    }

    /// Replies go to whoever waits for them; every event goes to the API objects first (the
    /// agent ends a call whose start was refused). A refusal nobody waits for is logged, but
    /// for "not in that call": a request made as the call ended (a view let go, say) meets a
    /// call the service has ended already.
    fn dispatch(this: &Rc<Self>, event: AgentEvent) {
        let reply = match &event {
            AgentEvent::Replied { request, result } => Some((*request, result.clone())),
            _ => None,
        };
        if let Some(events) = this.events.upgrade() {
            events.handle(this, event);
        }
        let Some((request, result)) = reply else {
            return;
        };
        if let Some(waiter) = this.replies.borrow_mut().remove(&request) {
            let _ = waiter.send(result);
        } else if let Some(e) = result
            .as_ref()
            .err()
            .filter(|e| !e.is(ErrorKind::CallNotFound))
        {
            web_sys::console::warn_1(
                &format!(
                    "rtcall: the service refused a request: {} ({}/{})",
                    e.message, e.code, e.sub_code
                )
                .into(),
            );
        }
    }

    /// Opens the WebSocket with a fresh token.
    fn connect(this: &Rc<Self>) {
        let weak = Rc::downgrade(this);
        wasm_bindgen_futures::spawn_local(async move {
            let Some(this) = weak.upgrade() else { return };
            let closed = |this: &Rc<Driver>| {
                let now = this.clock.now_ms();
                this.prepare(|engine| engine.handle_closed(now));
                Self::pump(this);
            };
            let token = match fetch_token(&this.credential).await {
                Ok(token) => token,
                Err(e) => {
                    web_sys::console::warn_1(&format!("rtcall: cannot get a token: {e}").into());
                    return closed(&this);
                }
            };
            let on_open = Self::later(&this, move |this, now| {
                this.prepare(|engine| engine.handle_open(now, token))
            });
            let on_open = RefCell::new(Some(on_open));
            let on_message = Rc::downgrade(&this);
            let on_close = Rc::downgrade(&this);
            let socket = SignalSocket::connect(
                &signal_url(&this.service_url),
                move || {
                    if let Some(open) = on_open.borrow_mut().take() {
                        open();
                    }
                },
                move |text| {
                    let weak = on_message.clone();
                    wasm_bindgen_futures::spawn_local(async move {
                        if let (Some(this), Some(frame)) = (weak.upgrade(), decode(&text)) {
                            let now = this.clock.now_ms();
                            this.prepare(|engine| engine.handle_frame(now, frame));
                            Self::pump(&this);
                        }
                    });
                },
                move || {
                    let weak = on_close.clone();
                    wasm_bindgen_futures::spawn_local(async move {
                        if let Some(this) = weak.upgrade() {
                            let socket = this.socket.borrow_mut().take();
                            defer_drop(socket);
                            closed(&this);
                        }
                    });
                },
            );
            match socket {
                Ok(socket) => {
                    let old = this.socket.borrow_mut().replace(socket);
                    defer_drop(old);
                }
                Err(_) => closed(&this),
            }
        });
    }
}

/// The token the app's credential gives now (`getToken()`, a promise of `{token}`).
async fn fetch_token(credential: &JsValue) -> Result<String, String> {
    let get_token = js_sys::Reflect::get(credential, &"getToken".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .ok_or("the credential has no getToken()")?;
    let result = get_token
        .call0(credential)
        .map_err(|_| "getToken() threw")?;
    let access = JsFuture::from(js_sys::Promise::resolve(&result))
        .await
        .map_err(|_| "getToken() was rejected")?;
    js_sys::Reflect::get(&access, &"token".into())
        .ok()
        .and_then(|t| t.as_string())
        .ok_or_else(|| "getToken() gave no token".to_owned())
}

/// Drops a socket after the current callback returns.
fn defer_drop(socket: Option<SignalSocket>) {
    if let Some(socket) = socket {
        wasm_bindgen_futures::spawn_local(async move { drop(socket) });
    }
}
