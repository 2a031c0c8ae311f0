//! The identity REST API, compatible with Azure Communication Services' so existing identity
//! clients work against it: `POST /identities`, `POST /identities/{id}/:issueAccessToken`,
//! `POST /identities/{id}/:revokeAccessTokens`, `DELETE /identities/{id}`, every request signed
//! with the access key (HMAC-SHA256).

use super::{validate_token_request, IssuedToken, SignedRequest, MAX_TOKEN_LIFETIME};
use crate::error::ApiError;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{delete, post};
use axum::{Json, Router};
use rtcall_protocol::token::Scope;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Largest request body the identity API reads.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The identity API's routes.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/identities", post(create_identity))
        .route("/identities/{id}", delete(delete_identity))
        .route("/identities/{id}/{action}", post(identity_action))
}

/// A request body whose HMAC signature has been verified against the access key.
pub struct Signed(Bytes);

impl Signed {
    /// Parses the body as JSON, or `T::default()` when it is empty.
    fn json_or_default<T: DeserializeOwned + Default>(&self) -> Result<T, ApiError> {
        if self.0.iter().all(u8::is_ascii_whitespace) {
            return Ok(T::default());
        }
        self.json()
    }

    /// Parses the body as JSON.
    fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        serde_json::from_slice(&self.0)
            .map_err(|e| ApiError::bad_request(format!("invalid request body: {e}")))
    }
}

impl FromRequest<Arc<AppState>> for Signed {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &Arc<AppState>) -> Result<Self, ApiError> {
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
            .await
            .map_err(|_| ApiError::payload_too_large(MAX_BODY_BYTES))?;
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let signed = SignedRequest {
            method: parts.method.as_str(),
            path_and_query: parts
                .uri
                .path_and_query()
                .map_or(parts.uri.path(), |pq| pq.as_str()),
            host: header(header::HOST.as_str()),
            date: header("x-ms-date"),
            content_sha256: header("x-ms-content-sha256"),
            authorization: header(header::AUTHORIZATION.as_str()),
            body: &body,
        };
        state.access_key.verify(&signed, SystemTime::now())?;
        Ok(Signed(body))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateIdentityRequest {
    #[serde(default)]
    create_token_with_scopes: Vec<Scope>,
    expires_in_minutes: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct IssueTokenRequest {
    scopes: Vec<Scope>,
    expires_in_minutes: Option<u64>,
}

fn lifetime(expires_in_minutes: Option<u64>) -> Duration {
    expires_in_minutes.map_or(MAX_TOKEN_LIFETIME, |m| {
        Duration::from_secs(m.saturating_mul(60))
    })
}

/// The ACS `AccessToken` shape.
pub fn token_json(issued: &IssuedToken) -> serde_json::Value {
    serde_json::json!({
        "token": issued.token,
        "expiresOn": humantime::format_rfc3339_millis(issued.expires_on).to_string(),
    })
}

async fn create_identity(
    State(state): State<Arc<AppState>>,
    body: Signed,
) -> Result<impl IntoResponse, ApiError> {
    let request: CreateIdentityRequest = body.json_or_default()?;
    let now = SystemTime::now();
    let scopes = &request.create_token_with_scopes;
    let lifetime = lifetime(request.expires_in_minutes);
    // Validate the token request before creating anything, so a bad lifetime leaves no identity.
    if !scopes.is_empty() {
        validate_token_request(scopes, lifetime)?;
    }
    let mut response = serde_json::Map::new();
    let id = state.identities.create_identity(now)?;
    response.insert("identity".into(), serde_json::json!({ "id": id }));
    if !scopes.is_empty() {
        let issued = state.identities.issue_token(&id, scopes, lifetime, now)?;
        response.insert("accessToken".into(), token_json(&issued));
    }
    Ok((StatusCode::CREATED, Json(response)))
}

async fn identity_action(
    State(state): State<Arc<AppState>>,
    Path((id, action)): Path<(String, String)>,
    body: Signed,
) -> Result<axum::response::Response, ApiError> {
    match action.as_str() {
        ":issueAccessToken" => {
            let request: IssueTokenRequest = body.json()?;
            let issued = state.identities.issue_token(
                &id,
                &request.scopes,
                lifetime(request.expires_in_minutes),
                SystemTime::now(),
            )?;
            Ok(Json(token_json(&issued)).into_response())
        }
        ":revokeAccessTokens" => {
            state.identities.revoke_tokens(&id)?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Err(ApiError::not_found(format!(
            "unknown identity action '{action}': expected :issueAccessToken or :revokeAccessTokens"
        ))),
    }
}

async fn delete_identity(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    _body: Signed,
) -> Result<StatusCode, ApiError> {
    state.identities.delete_identity(&id)?;
    Ok(StatusCode::NO_CONTENT)
}
