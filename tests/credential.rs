//! The token credential in a real browser, with a manual clock: on-demand and proactive
//! refresh timing, de-duplicated refreshes, expired and failed refreshes, disposal, and the
//! JavaScript constructor forms.

#![cfg(target_arch = "wasm32")]

use futures_channel::oneshot;
use rtcall::api::credential::{RefreshFuture, TokenRefresher};
use rtcall::api::{ApiError, SubCode, TokenCredential};
use rtcall::time::ManualClock;
use rtcall_protocol::token::base64url;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const MIN: u64 = 60 * 1000;
/// The manual clock's starting time (an arbitrary moment in 2027, on a whole second).
const T0: u64 = 1_800_000_000_000;

/// An unsigned JWT expiring at `expires_on_ms` (whole seconds), tagged so tokens differ.
fn token(expires_on_ms: u64, tag: &str) -> String {
    let payload = format!(r#"{{"exp":{},"tag":"{tag}"}}"#, expires_on_ms / 1000);
    format!(
        "{}.{}.{}",
        base64url(br#"{"alg":"EdDSA","typ":"JWT"}"#),
        base64url(payload.as_bytes()),
        base64url(&[1; 64])
    )
}

/// Lets spawned futures and timers run: a macrotask runs after every pending microtask.
async fn settle() {
    gloo_timers::future::TimeoutFuture::new(0).await;
}

/// A refresher that hands out tokens valid for `lifetime_ms` from the clock's now, counting calls.
fn counting_refresher(
    clock: &ManualClock,
    lifetime_ms: u64,
    calls: &Rc<Cell<u32>>,
) -> TokenRefresher {
    let (clock, calls) = (clock.clone(), Rc::clone(calls));
    Rc::new(move |_signal| {
        calls.set(calls.get() + 1);
        let fresh = token(
            rtcall::time::Clock::now_ms(&clock) + lifetime_ms,
            &calls.get().to_string(),
        );
        Box::pin(async move { Ok(fresh) }) as RefreshFuture
    })
}

fn credential(
    refresher: TokenRefresher,
    initial: Option<&str>,
    proactive: bool,
    clock: &ManualClock,
) -> TokenCredential {
    TokenCredential::with_refresher(refresher, initial, proactive, Rc::new(clock.clone())).unwrap()
}

#[wasm_bindgen_test]
async fn a_static_token_is_returned_as_is() {
    let jwt = token(T0 + 60 * MIN, "static");
    let credential = TokenCredential::js_new(jwt.clone().into()).unwrap();
    let access = JsFuture::from(credential.js_get_token(JsValue::UNDEFINED))
        .await
        .unwrap();
    let get = |name: &str| js_sys::Reflect::get(&access, &name.into()).unwrap();
    assert_eq!(get("token"), jwt);
    assert_eq!(get("expiresOnTimestamp"), (T0 + 60 * MIN) as f64);
}

#[wasm_bindgen_test]
fn malformed_tokens_and_options_are_refused() {
    let check = |value: JsValue, sub_code: SubCode| {
        let err: JsValue = TokenCredential::js_new(value).unwrap_err().into();
        assert_eq!(
            js_sys::Reflect::get(&err, &"name".into()).unwrap(),
            "CommunicationServicesError"
        );
        assert_eq!(
            js_sys::Reflect::get(&err, &"subCode".into()).unwrap(),
            sub_code as u32
        );
    };
    check("not-a-jwt".into(), SubCode::MalformedToken);
    check(JsValue::from(42), SubCode::InvalidArgument);
    check(js_sys::Object::new().into(), SubCode::InvalidArgument);
}

#[wasm_bindgen_test]
async fn refreshes_on_demand_only_in_the_last_ten_minutes() {
    let clock = ManualClock::new(T0);
    let calls = Rc::new(Cell::new(0));
    let initial = token(T0 + 60 * MIN, "initial");
    let credential = credential(
        counting_refresher(&clock, 60 * MIN, &calls),
        Some(&initial),
        false,
        &clock,
    );

    assert_eq!(credential.get_token().await.unwrap().token, initial);
    clock.advance(49 * MIN);
    assert_eq!(credential.get_token().await.unwrap().token, initial);
    assert_eq!(calls.get(), 0, "no refresh outside the window");
    assert_eq!(
        clock.pending_timers(),
        0,
        "no timer without refreshProactively"
    );

    clock.advance(2 * MIN); // 9 minutes left
    let fresh = credential.get_token().await.unwrap();
    assert_eq!(calls.get(), 1);
    assert_eq!(fresh.expires_on_ms, T0 + 111 * MIN);
    assert_eq!(
        credential.get_token().await.unwrap(),
        fresh,
        "the new token is kept"
    );
    assert_eq!(calls.get(), 1);
}

#[wasm_bindgen_test]
async fn concurrent_calls_share_one_refresh() {
    let clock = ManualClock::new(T0);
    let calls = Rc::new(Cell::new(0));
    // The refresh completes only when the test says so, so all three calls overlap it.
    let release: Rc<RefCell<Option<oneshot::Sender<()>>>> = Rc::default();
    let refresher: TokenRefresher = {
        let (calls, release) = (Rc::clone(&calls), Rc::clone(&release));
        Rc::new(move |_signal| {
            calls.set(calls.get() + 1);
            let (tx, rx) = oneshot::channel();
            *release.borrow_mut() = Some(tx);
            Box::pin(async move {
                rx.await.ok();
                Ok(token(T0 + 60 * MIN, "shared"))
            }) as RefreshFuture
        })
    };
    let credential = credential(refresher, None, false, &clock);
    let pending: Vec<_> = (0..3)
        .map(|_| wasm_bindgen_futures::JsFuture::from(credential.js_get_token(JsValue::UNDEFINED)))
        .collect();
    settle().await;
    assert_eq!(calls.get(), 1);
    release.borrow_mut().take().unwrap().send(()).unwrap();
    for result in pending {
        let access = result.await.unwrap();
        let jwt = js_sys::Reflect::get(&access, &"token".into()).unwrap();
        assert_eq!(jwt, token(T0 + 60 * MIN, "shared"));
    }
    assert_eq!(calls.get(), 1);
}

#[wasm_bindgen_test]
async fn an_expired_refreshed_token_is_rejected() {
    let clock = ManualClock::new(T0);
    let refresher: TokenRefresher =
        Rc::new(|_signal| Box::pin(async { Ok(token(T0 - MIN, "stale")) }) as RefreshFuture);
    let credential = credential(refresher, None, false, &clock);
    let err = credential.get_token().await.unwrap_err();
    assert_eq!(err.sub_code, SubCode::RefreshedTokenExpired as u32);
    assert_eq!(err.code, 401);
}

#[wasm_bindgen_test]
async fn a_failed_refresh_keeps_a_still_valid_token_and_fails_once_it_expired() {
    let clock = ManualClock::new(T0);
    let calls = Rc::new(Cell::new(0));
    let refresher: TokenRefresher = {
        let calls = Rc::clone(&calls);
        Rc::new(move |_signal| {
            calls.set(calls.get() + 1);
            Box::pin(async { Err(ApiError::new(SubCode::TokenRefreshFailed, "offline")) })
                as RefreshFuture
        })
    };
    let initial = token(T0 + 5 * MIN, "initial");
    let credential = credential(refresher, Some(&initial), false, &clock);
    assert_eq!(credential.get_token().await.unwrap().token, initial);
    assert_eq!(calls.get(), 1, "it did try");
    clock.advance(5 * MIN);
    let err = credential.get_token().await.unwrap_err();
    assert_eq!(err.sub_code, SubCode::TokenRefreshFailed as u32);
    assert!(err.message.contains("offline"), "{err}");
}

#[wasm_bindgen_test]
async fn proactive_refresh_runs_on_the_clock() {
    let clock = ManualClock::new(T0);
    let calls = Rc::new(Cell::new(0));
    let initial = token(T0 + 60 * MIN, "initial");
    let credential = credential(
        counting_refresher(&clock, 60 * MIN, &calls),
        Some(&initial),
        true,
        &clock,
    );
    assert_eq!(clock.pending_timers(), 1);

    clock.advance(50 * MIN - 1);
    settle().await;
    assert_eq!(calls.get(), 0, "not before the window");
    clock.advance(1);
    settle().await;
    assert_eq!(
        calls.get(),
        1,
        "refreshed as the token entered the last ten minutes"
    );
    let fresh = credential.get_token().await.unwrap();
    assert_eq!(fresh.expires_on_ms, T0 + 110 * MIN);
    assert_eq!(
        calls.get(),
        1,
        "getToken used the proactively refreshed token"
    );

    clock.advance(50 * MIN);
    settle().await;
    assert_eq!(calls.get(), 2, "and again for the next token");
}

#[wasm_bindgen_test]
async fn proactive_refresh_inside_the_window_waits_half_the_remaining_life() {
    let clock = ManualClock::new(T0);
    let calls = Rc::new(Cell::new(0));
    let initial = token(T0 + 4 * MIN, "short");
    let _credential = credential(
        counting_refresher(&clock, 60 * MIN, &calls),
        Some(&initial),
        true,
        &clock,
    );
    clock.advance(2 * MIN - 1);
    settle().await;
    assert_eq!(calls.get(), 0);
    clock.advance(1);
    settle().await;
    assert_eq!(calls.get(), 1);
}

#[wasm_bindgen_test]
async fn proactive_without_a_token_fetches_at_once() {
    let clock = ManualClock::new(T0);
    let calls = Rc::new(Cell::new(0));
    let credential = credential(
        counting_refresher(&clock, 60 * MIN, &calls),
        None,
        true,
        &clock,
    );
    settle().await;
    assert_eq!(calls.get(), 1);
    credential.get_token().await.unwrap();
    assert_eq!(calls.get(), 1);
}

#[wasm_bindgen_test]
async fn dispose_stops_everything() {
    let clock = ManualClock::new(T0);
    let signal_seen: Rc<RefCell<Option<web_sys::AbortSignal>>> = Rc::default();
    let refresher: TokenRefresher = {
        let signal_seen = Rc::clone(&signal_seen);
        Rc::new(move |signal| {
            *signal_seen.borrow_mut() = Some(signal);
            Box::pin(async { Ok(token(T0 + 60 * MIN, "x")) }) as RefreshFuture
        })
    };
    let credential = credential(
        refresher,
        Some(&token(T0 + 60 * MIN, "initial")),
        true,
        &clock,
    );
    assert_eq!(clock.pending_timers(), 1);
    credential.dispose();
    assert_eq!(
        clock.pending_timers(),
        0,
        "the proactive timer is cancelled"
    );
    let err = credential.get_token().await.unwrap_err();
    assert_eq!((err.code, err.sub_code), (409, SubCode::Disposed as u32));
    clock.advance(120 * MIN);
    settle().await;
    assert!(signal_seen.borrow().is_none(), "no refresh after dispose");
}

#[wasm_bindgen_test]
async fn the_javascript_refresher_form_works() {
    let fresh = token(js_sys::Date::now() as u64 + 60 * MIN, "js");
    // A plain JS function returning a promise, receiving an AbortSignal.
    let refresher = js_sys::Function::new_with_args(
        "signal",
        &format!(
            "globalThis.__refreshCalls = (globalThis.__refreshCalls || 0) + 1; \
             if (!(signal instanceof AbortSignal)) throw new Error('no signal'); \
             return Promise.resolve('{fresh}');"
        ),
    );
    let options = js_sys::Object::new();
    js_sys::Reflect::set(&options, &"tokenRefresher".into(), &refresher).unwrap();
    let credential = TokenCredential::js_new(options.into()).unwrap();
    let access = JsFuture::from(credential.js_get_token(JsValue::UNDEFINED))
        .await
        .unwrap();
    assert_eq!(
        js_sys::Reflect::get(&access, &"token".into()).unwrap(),
        fresh
    );
    let calls = js_sys::Reflect::get(&js_sys::global(), &"__refreshCalls".into()).unwrap();
    assert_eq!(calls, 1);

    // A refresher that rejects gives a coded error.
    let failing =
        js_sys::Function::new_no_args("return Promise.reject(new Error('auth server down'))");
    let options = js_sys::Object::new();
    js_sys::Reflect::set(&options, &"tokenRefresher".into(), &failing).unwrap();
    let credential = TokenCredential::js_new(options.into()).unwrap();
    let err = JsFuture::from(credential.js_get_token(JsValue::UNDEFINED))
        .await
        .unwrap_err();
    assert!(err.is_instance_of::<js_sys::Error>());
    assert_eq!(
        js_sys::Reflect::get(&err, &"subCode".into()).unwrap(),
        SubCode::TokenRefreshFailed as u32
    );
    let message = js_sys::Reflect::get(&err, &"message".into())
        .unwrap()
        .as_string()
        .unwrap();
    assert!(message.contains("auth server down"), "{message}");
}
