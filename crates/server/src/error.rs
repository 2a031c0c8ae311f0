//! HTTP API errors: a status, a stable `code` and a human `message`, sent as the ACS error body
//! `{"error": {"code", "message"}}`. Messages never carry tokens, keys or signatures; internal
//! failures are logged here and reach the client only as a generic message.

use crate::identity::{IdentityError, SignatureError, TokenRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// An error response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
}

impl ApiError {
    /// A new error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400: the request is malformed or its values are out of range.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidRequest", message)
    }

    /// 404: no such resource or route.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFound", message)
    }

    /// 413: the body is over the limit.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLarge",
            format!("the request body is larger than {limit} bytes"),
        )
    }

    /// 500: a failure inside the service. The detail is logged, not sent.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "the service failed to complete the request",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        (self.status, Json(body)).into_response()
    }
}

impl From<IdentityError> for ApiError {
    fn from(err: IdentityError) -> Self {
        match err {
            IdentityError::NotFound => {
                Self::new(StatusCode::NOT_FOUND, "IdentityNotFound", err.to_string())
            }
            IdentityError::InvalidLifetime | IdentityError::NoScopes => {
                Self::bad_request(err.to_string())
            }
            IdentityError::Store(e) => Self::internal(e),
        }
    }
}

impl From<SignatureError> for ApiError {
    fn from(err: SignatureError) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", err.to_string())
    }
}

impl From<TokenRejection> for ApiError {
    fn from(rejection: TokenRejection) -> Self {
        let code = match rejection {
            TokenRejection::Expired => "TokenExpired",
            TokenRejection::Revoked => "TokenRevoked",
            TokenRejection::Malformed
            | TokenRejection::BadSignature
            | TokenRejection::UnknownIdentity => "InvalidToken",
        };
        Self::new(StatusCode::UNAUTHORIZED, code, rejection.to_string())
    }
}
