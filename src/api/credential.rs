//! `AzureCommunicationTokenCredential`: holds the user's access token and refreshes it.
//!
//! Two forms, as in `@azure/communication-common`: a static token, or a `tokenRefresher` (with an
//! optional initial `token` and `refreshProactively`). `getToken()` refreshes a token that is
//! expired or within ten minutes of expiry; concurrent calls share one refresh; a refreshed token
//! that has already expired is refused. With `refreshProactively` a timer refreshes the token
//! as it enters the last ten minutes, or after half its remaining life if already inside them.
//! When a refresh fails while the current token is still valid, `getToken()` resolves with the
//! current token (a call in progress keeps working) and the failure is logged to the console.
//!
//! The timing rules are in [`crate::engine::credential`]; time comes from a [`Clock`].

use super::error::{ApiError, SubCode};
use crate::api::promise::promise;
use crate::engine::credential::AccessToken;
use crate::time::{Clock, SystemClock, Timer};
use futures_channel::oneshot;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// What a token refresher returns: the new token, or why there is none.
pub type RefreshFuture = Pin<Box<dyn Future<Output = Result<String, ApiError>>>>;

/// Fetches a fresh token. The signal aborts when the credential is disposed.
pub type TokenRefresher = Rc<dyn Fn(web_sys::AbortSignal) -> RefreshFuture>;

/// An access-token credential (`AzureCommunicationTokenCredential`).
#[wasm_bindgen(js_name = AzureCommunicationTokenCredential)]
#[derive(Clone)]
pub struct TokenCredential {
    inner: Rc<Inner>,
}

struct Inner {
    clock: Rc<dyn Clock>,
    refresher: Option<TokenRefresher>,
    refresh_proactively: bool,
    abort: web_sys::AbortController,
    state: RefCell<State>,
}

#[derive(Default)]
struct State {
    current: Option<AccessToken>,
    /// Callers waiting for the refresh in flight; `Some` while one runs.
    waiters: Option<Vec<oneshot::Sender<Result<AccessToken, ApiError>>>>,
    proactive_timer: Option<Timer>,
    disposed: bool,
}

impl std::fmt::Debug for TokenCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token itself.
        let state = self.inner.state.borrow();
        f.debug_struct("TokenCredential")
            .field("refreshes", &self.inner.refresher.is_some())
            .field(
                "expires_on_ms",
                &state.current.as_ref().map(|t| t.expires_on_ms),
            )
            .field("disposed", &state.disposed)
            .finish()
    }
}

/// What the library reads from a token (without checking its signature: the service does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// Expiry, milliseconds since the Unix epoch.
    pub expires_on_ms: u64,
    /// The identity (`sub`), if the token names one.
    pub identity: Option<String>,
    /// The issuing service's URL (`iss`), if the token names one.
    pub issuer: Option<String>,
}

/// Reads a JWT's claims with the browser's `JSON.parse`.
pub fn token_info(token: &str) -> Result<TokenInfo, ApiError> {
    let malformed = || {
        ApiError::new(
            SubCode::MalformedToken,
            "the access token is not a well-formed JWT",
        )
    };
    let parts = rtcall_protocol::token::split(token).map_err(|_| malformed())?;
    let payload = String::from_utf8(parts.payload).map_err(|_| malformed())?;
    let claims = js_sys::JSON::parse(&payload).map_err(|_| malformed())?;
    let text = |name: &str| {
        js_sys::Reflect::get(&claims, &name.into())
            .ok()
            .and_then(|v| v.as_string())
    };
    let exp = js_sys::Reflect::get(&claims, &"exp".into())
        .ok()
        .and_then(|v| v.as_f64())
        .filter(|exp| *exp >= 0.0)
        .ok_or_else(|| {
            ApiError::new(
                SubCode::MalformedToken,
                "the access token has no expiry (exp)",
            )
        })?;
    Ok(TokenInfo {
        expires_on_ms: (exp * 1000.0) as u64,
        identity: text("sub"),
        issuer: text("iss"),
    })
}

fn parse_token(token: &str) -> Result<AccessToken, ApiError> {
    Ok(AccessToken {
        token: token.to_owned(),
        expires_on_ms: token_info(token)?.expires_on_ms,
    })
}

fn disposed() -> ApiError {
    ApiError::new(SubCode::Disposed, "the token credential has been disposed")
}

impl TokenCredential {
    /// A credential for one fixed token. Fails if the token is not a JWT with an `exp`.
    pub fn from_token(token: &str) -> Result<Self, ApiError> {
        Ok(Self::build(
            None,
            Some(parse_token(token)?),
            false,
            Rc::new(SystemClock),
        ))
    }

    /// A credential that calls `refresher` for tokens, starting from `token` if given; with
    /// `refresh_proactively` it refreshes on a timer from `clock` rather than only on demand.
    pub fn with_refresher(
        refresher: TokenRefresher,
        token: Option<&str>,
        refresh_proactively: bool,
        clock: Rc<dyn Clock>,
    ) -> Result<Self, ApiError> {
        let current = token.map(parse_token).transpose()?;
        let credential = Self::build(Some(refresher), current, refresh_proactively, clock);
        if refresh_proactively {
            let has_token = credential.inner.state.borrow().current.is_some();
            if has_token {
                Inner::schedule_proactive(&credential.inner);
            } else {
                Inner::start_refresh(&credential.inner);
            }
        }
        Ok(credential)
    }

    fn build(
        refresher: Option<TokenRefresher>,
        current: Option<AccessToken>,
        refresh_proactively: bool,
        clock: Rc<dyn Clock>,
    ) -> Self {
        // Creating an AbortController only fails outside a browser-like global.
        let abort = web_sys::AbortController::new().expect("AbortController is available");
        TokenCredential {
            inner: Rc::new(Inner {
                clock,
                refresher,
                refresh_proactively,
                abort,
                state: RefCell::new(State {
                    current,
                    ..State::default()
                }),
            }),
        }
    }

    /// Returns a token valid for at least ten more minutes when one can be had, refreshing first
    /// if needed.
    pub async fn get_token(&self) -> Result<AccessToken, ApiError> {
        let inner = &self.inner;
        let waiting = {
            let state = inner.state.borrow();
            if state.disposed {
                return Err(disposed());
            }
            match (&state.current, &inner.refresher) {
                (Some(current), None) => return Ok(current.clone()),
                (Some(current), Some(_)) if !current.is_expiring_soon(inner.clock.now_ms()) => {
                    return Ok(current.clone())
                }
                _ => {}
            }
            drop(state);
            Inner::join_refresh(inner)
        };
        match waiting.await {
            Ok(Ok(token)) => Ok(token),
            Ok(Err(err)) => {
                let state = inner.state.borrow();
                match &state.current {
                    Some(current) if !current.is_expired(inner.clock.now_ms()) => {
                        web_sys::console::warn_1(
                            &format!("rtcall: token refresh failed, using the current token until it expires: {err}").into(),
                        );
                        Ok(current.clone())
                    }
                    _ => Err(err),
                }
            }
            Err(oneshot::Canceled) => Err(disposed()),
        }
    }

    /// Stops proactive refreshing, aborts a refresh in flight, and makes `getToken` fail.
    pub fn dispose(&self) {
        let timer = {
            let mut state = self.inner.state.borrow_mut();
            state.disposed = true;
            state.proactive_timer.take()
        };
        drop(timer);
        self.inner.abort.abort();
    }
}

impl Inner {
    /// Registers a waiter for the refresh in flight, starting one if none runs.
    fn join_refresh(this: &Rc<Inner>) -> oneshot::Receiver<Result<AccessToken, ApiError>> {
        let (tx, rx) = oneshot::channel();
        let running = {
            let mut state = this.state.borrow_mut();
            let running = state.waiters.is_some();
            state.waiters.get_or_insert_with(Vec::new).push(tx);
            running
        };
        if !running {
            Self::spawn_refresh(this);
        }
        rx
    }

    /// Starts a refresh nobody waits for (the proactive timer's), unless one already runs.
    fn start_refresh(this: &Rc<Inner>) {
        let idle = {
            let mut state = this.state.borrow_mut();
            let idle = state.waiters.is_none();
            state.waiters.get_or_insert_with(Vec::new);
            idle
        };
        if idle {
            Self::spawn_refresh(this);
        }
    }

    fn spawn_refresh(this: &Rc<Inner>) {
        let Some(refresher) = this.refresher.clone() else {
            return;
        };
        let this = Rc::clone(this);
        wasm_bindgen_futures::spawn_local(async move {
            let fetched = refresher(this.abort.signal()).await;
            let result = fetched.and_then(|token| {
                let token = parse_token(&token)?;
                if token.is_expired(this.clock.now_ms()) {
                    return Err(ApiError::new(
                        SubCode::RefreshedTokenExpired,
                        "the token returned from the tokenRefresher is expired",
                    ));
                }
                Ok(token)
            });
            let (waiters, disposed) = {
                let mut state = this.state.borrow_mut();
                if let Ok(token) = &result {
                    state.current = Some(token.clone());
                }
                (state.waiters.take().unwrap_or_default(), state.disposed)
            };
            if this.refresh_proactively && !disposed {
                // After a failure this retries while the current token lasts, at ever shorter
                // intervals (half the remaining life each time).
                Self::schedule_proactive(&this);
            }
            if waiters.is_empty() {
                if let Err(err) = &result {
                    web_sys::console::warn_1(
                        &format!("rtcall: proactive token refresh failed: {err}").into(),
                    );
                }
            }
            for waiter in waiters {
                // A waiter whose caller went away has dropped its receiver; nothing to tell it.
                let _ = waiter.send(result.clone());
            }
        });
    }

    fn schedule_proactive(this: &Rc<Inner>) {
        let delay = {
            let state = this.state.borrow();
            state
                .current
                .as_ref()
                .and_then(|t| t.proactive_refresh_delay(this.clock.now_ms()))
        };
        let timer = delay.map(|delay| {
            let weak: Weak<Inner> = Rc::downgrade(this);
            this.clock.start_timer(
                delay,
                Box::new(move || {
                    if let Some(this) = weak.upgrade() {
                        Inner::start_refresh(&this);
                    }
                }),
            )
        });
        let previous = std::mem::replace(&mut this.state.borrow_mut().proactive_timer, timer);
        drop(previous);
    }
}

/// Adapts a JavaScript `tokenRefresher(abortSignal) => Promise<string>`.
fn js_refresher(refresher: js_sys::Function) -> TokenRefresher {
    Rc::new(move |signal: web_sys::AbortSignal| {
        let refresher = refresher.clone();
        Box::pin(async move {
            let returned = refresher.call1(&JsValue::NULL, &signal).map_err(|e| {
                ApiError::from_js(SubCode::TokenRefreshFailed, "the tokenRefresher threw", &e)
            })?;
            let value = JsFuture::from(js_sys::Promise::resolve(&returned))
                .await
                .map_err(|e| {
                    ApiError::from_js(SubCode::TokenRefreshFailed, "the tokenRefresher failed", &e)
                })?;
            value.as_string().ok_or_else(|| {
                ApiError::new(
                    SubCode::TokenRefreshFailed,
                    "the tokenRefresher must resolve with an access token string",
                )
            })
        }) as RefreshFuture
    })
}

fn access_token_to_js(token: &AccessToken) -> JsValue {
    let object = js_sys::Object::new();
    // Setting properties on a fresh plain object cannot fail.
    let _ = js_sys::Reflect::set(&object, &"token".into(), &token.token.as_str().into());
    let _ = js_sys::Reflect::set(
        &object,
        &"expiresOnTimestamp".into(),
        &(token.expires_on_ms as f64).into(),
    );
    object.into()
}

fn get(object: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(object, &name.into()).unwrap_or(JsValue::UNDEFINED)
}

#[wasm_bindgen(js_class = AzureCommunicationTokenCredential)]
impl TokenCredential {
    /// `new AzureCommunicationTokenCredential(token)` or
    /// `new AzureCommunicationTokenCredential({tokenRefresher, token?, refreshProactively?})`.
    #[wasm_bindgen(constructor)]
    pub fn js_new(
        #[wasm_bindgen(unchecked_param_type = "string | CommunicationTokenRefreshOptions")]
        token_or_options: JsValue,
    ) -> Result<TokenCredential, ApiError> {
        if let Some(token) = token_or_options.as_string() {
            return Self::from_token(&token);
        }
        let refresher = get(&token_or_options, "tokenRefresher");
        let Some(refresher) = refresher.dyn_ref::<js_sys::Function>() else {
            return Err(ApiError::invalid_argument(
                "expected an access token string or {tokenRefresher, token?, refreshProactively?}",
            ));
        };
        let token = get(&token_or_options, "token");
        let token = match token.as_string() {
            Some(token) => Some(token),
            None if token.is_undefined() || token.is_null() => None,
            None => return Err(ApiError::invalid_argument("token must be a string")),
        };
        let refresh_proactively = get(&token_or_options, "refreshProactively").is_truthy();
        Self::with_refresher(
            js_refresher(refresher.clone()),
            token.as_deref(),
            refresh_proactively,
            Rc::new(SystemClock),
        )
    }

    /// `getToken(options?)` → `Promise<{token, expiresOnTimestamp}>`. An `abortSignal` that is
    /// already aborted rejects at once.
    #[wasm_bindgen(js_name = getToken, unchecked_return_type = "Promise<AccessToken>")]
    pub fn js_get_token(
        &self,
        #[wasm_bindgen(unchecked_param_type = "CommunicationGetTokenOptions")] options: JsValue,
    ) -> js_sys::Promise {
        let this = self.clone();
        let aborted =
            options.is_object() && get(&get(&options, "abortSignal"), "aborted").is_truthy();
        promise(async move {
            if aborted {
                return Err(ApiError::new(SubCode::Aborted, "getToken was aborted"));
            }
            let token = this.get_token().await?;
            Ok(access_token_to_js(&token))
        })
    }

    /// `dispose()`.
    #[wasm_bindgen(js_name = dispose)]
    pub fn js_dispose(&self) {
        self.dispose();
    }
}
