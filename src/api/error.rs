//! Errors the JavaScript API throws and rejects with: `CommunicationServicesError`-like objects
//! (`name`, `code`, `subCode`, `message`), so apps can branch on numbers rather than parse text.
//!
//! `code` follows HTTP semantics as ACS's do (400 bad argument, 401 bad token, 409 wrong state);
//! `subCode` says exactly which error, from the table in [`SubCode`].

use std::fmt;
use wasm_bindgen::JsValue;

/// Which error, precisely. Values are stable: apps may compare against them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubCode {
    /// An argument has the wrong type or value.
    InvalidArgument = 41001,
    /// The object was disposed.
    Disposed = 41002,
    /// An access token could not be read.
    MalformedToken = 41003,
    /// The token refresher failed or returned something other than a token.
    TokenRefreshFailed = 41004,
    /// The token refresher returned a token that has already expired.
    RefreshedTokenExpired = 41005,
    /// The operation was aborted through its `AbortSignal`.
    Aborted = 41006,
    /// The method does not fit the object's state (e.g. `hold()` before the call connects).
    WrongState = 41007,
    /// A camera, microphone or screen could not be opened.
    DeviceFailed = 41008,
    /// The remote stream is not being sent.
    StreamUnavailable = 41009,
    /// A remote video did not arrive in time for its view.
    ViewTimeout = 41010,
    /// Not supported by this library or browser.
    NotSupported = 41011,
    /// A call agent for this identity exists already in this client.
    AgentExists = 41012,
    /// The user (or the browser's policy) refused: a cancelled screen picker, say.
    PermissionDenied = 41013,
    // 41014 is the call end reason of a fault inside the library (`EndReason::LIBRARY_FAULT`).
}

impl SubCode {
    /// The HTTP-like `code` that goes with this sub-code.
    pub fn code(self) -> u16 {
        match self {
            SubCode::InvalidArgument | SubCode::MalformedToken => 400,
            SubCode::TokenRefreshFailed | SubCode::RefreshedTokenExpired => 401,
            SubCode::Disposed | SubCode::WrongState | SubCode::AgentExists => 409,
            SubCode::Aborted => 499,
            SubCode::DeviceFailed => 412,
            SubCode::StreamUnavailable => 404,
            SubCode::ViewTimeout => 408,
            SubCode::NotSupported => 501,
            SubCode::PermissionDenied => 403,
        }
    }
}

/// An API error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP-like class of the error.
    pub code: u16,
    /// Exactly which error.
    pub sub_code: u32,
    /// What went wrong, for people.
    pub message: String,
}

impl ApiError {
    /// An error of kind `sub_code`.
    pub fn new(sub_code: SubCode, message: impl Into<String>) -> Self {
        ApiError {
            code: sub_code.code(),
            sub_code: sub_code as u32,
            message: message.into(),
        }
    }

    /// A bad argument.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(SubCode::InvalidArgument, message)
    }

    /// Builds an error of kind `sub_code` around a JavaScript exception, keeping its message.
    pub fn from_js(sub_code: SubCode, context: &str, value: &JsValue) -> Self {
        let detail = js_sys::Reflect::get(value, &"message".into())
            .ok()
            .and_then(|m| m.as_string())
            .or_else(|| value.as_string())
            .unwrap_or_else(|| "unknown error".into());
        Self::new(sub_code, format!("{context}: {detail}"))
    }
}

impl From<rtcall_protocol::signal::WireError> for ApiError {
    fn from(err: rtcall_protocol::signal::WireError) -> Self {
        ApiError {
            code: err.code,
            sub_code: err.sub_code,
            message: err.message,
        }
    }
}

impl From<JsValue> for ApiError {
    /// A browser API failed (a DOM exception, usually): keep its name and message.
    fn from(value: JsValue) -> Self {
        let name = js_sys::Reflect::get(&value, &"name".into())
            .ok()
            .and_then(|n| n.as_string())
            .unwrap_or_default();
        let sub_code =
            if name == "NotAllowedError" || name == "NotFoundError" || name == "NotReadableError" {
                SubCode::DeviceFailed
            } else {
                SubCode::InvalidArgument
            };
        Self::from_js(sub_code, &format!("the browser refused ({name})"), &value)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}/{})", self.message, self.code, self.sub_code)
    }
}

impl std::error::Error for ApiError {}

impl From<ApiError> for JsValue {
    fn from(err: ApiError) -> JsValue {
        let error = js_sys::Error::new(&err.message);
        error.set_name("CommunicationServicesError");
        // Setting a property on a fresh Error object cannot fail.
        let _ = js_sys::Reflect::set(&error, &"code".into(), &err.code.into());
        let _ = js_sys::Reflect::set(&error, &"subCode".into(), &err.sub_code.into());
        error.into()
    }
}
