//! The HTTP surface: the identity API, token checks, the demo endpoint, the public signing key,
//! and the static demo app (`www/` at `/`, the npm package at `/pkg/`).

use crate::error::ApiError;
use crate::identity::routes::{token_json, MAX_BODY_BYTES};
use crate::{identity, AppState, Config};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, Request, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use rtcall_protocol::token::Scope;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

/// Lifetime of the tokens the demo endpoint hands out.
const DEMO_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// Builds the router over `state`.
pub fn app(state: Arc<AppState>, config: &Config) -> Router {
    let static_files = ServeDir::new(&config.www_dir).fallback(axum::routing::any(not_found));
    Router::new()
        .merge(identity::routes::router())
        .route("/session", get(session))
        .route("/signal", get(crate::signaling::session::upgrade))
        .route("/demo/identity", post(demo_identity))
        .route("/demo/phone", get(demo_phone))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/healthz", get(|| async { "ok" }))
        .nest_service("/pkg", ServeDir::new(&config.pkg_dir))
        .fallback_service(static_files)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // The demo and package are rebuilt in place; browsers must revalidate.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ))
        .layer(
            // Log method, path and status only: query strings and headers may carry tokens.
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                tracing::info_span!("http", method = %request.method(), path = %request.uri().path())
            }),
        )
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such resource")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        "this resource does not accept that method",
    )
}

/// The bearer token of a request.
fn bearer_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "InvalidToken",
                "the request has no 'Authorization: Bearer <access token>' header",
            )
        })
}

/// Who a token belongs to, as the service sees it: lets a client check its token before use.
async fn session(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let claims = state
        .identities
        .verify_token(bearer_token(&headers)?, SystemTime::now())?;
    let expires_on = SystemTime::UNIX_EPOCH + Duration::from_secs(claims.exp);
    Ok(Json(serde_json::json!({
        "identity": {"id": claims.sub},
        "scopes": claims.scp,
        "resourceId": claims.resource_id,
        "expiresOn": humantime::format_rfc3339_millis(expires_on).to_string(),
    })))
}

/// Creates an identity with a calling token for the demo page. Off in production, where
/// identities come from the signed identity API.
async fn demo_identity(State(state): State<Arc<AppState>>) -> Result<impl IntoResponse, ApiError> {
    if !state.demo_enabled {
        return Err(ApiError::not_found(
            "the demo endpoint is disabled in production mode",
        ));
    }
    let now = SystemTime::now();
    let id = state.identities.create_identity(now)?;
    let issued = state
        .identities
        .issue_token(&id, &[Scope::Voip], DEMO_TOKEN_LIFETIME, now)?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"identity": {"id": id}, "accessToken": token_json(&issued)})),
    ))
}

/// The caller ids the demo app may call phone numbers with (none without a trunk).
async fn demo_phone(State(state): State<Arc<AppState>>) -> Result<impl IntoResponse, ApiError> {
    if !state.demo_enabled {
        return Err(ApiError::not_found(
            "the demo endpoint is disabled in production mode",
        ));
    }
    Ok(Json(serde_json::json!({"callerIds": state.phone_numbers})))
}

async fn jwks(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    Json(state.identities.jwks())
}
