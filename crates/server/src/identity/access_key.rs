//! The access key and HMAC-SHA256 request signing, as Azure Communication Services does it.
//!
//! A signed request carries `x-ms-date` (RFC 1123), `x-ms-content-sha256` (base64 SHA-256 of the
//! body) and `Authorization: HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=<s>`,
//! where `<s>` is the base64 HMAC-SHA256, keyed with the decoded access key, of
//! `"<VERB>\n<path and query>\n<x-ms-date>;<host>;<x-ms-content-sha256>"`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;
use std::time::{Duration, SystemTime};

/// How far `x-ms-date` may be from the server's clock, either way.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

const AUTH_PREFIX: &str = "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=";

/// The secret that signs identity API requests. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey(Vec<u8>);

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessKey(<redacted>)")
    }
}

/// The parts of an HTTP request that its signature covers.
#[derive(Debug)]
pub struct SignedRequest<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// Path and query exactly as sent (`/identities?api-version=2023-10-01`).
    pub path_and_query: &'a str,
    /// The `Host` header.
    pub host: Option<&'a str>,
    /// The `x-ms-date` header.
    pub date: Option<&'a str>,
    /// The `x-ms-content-sha256` header.
    pub content_sha256: Option<&'a str>,
    /// The `Authorization` header.
    pub authorization: Option<&'a str>,
    /// The body.
    pub body: &'a [u8],
}

/// Why a request's signature was refused. Messages name the problem, never the key or signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A required header is absent.
    #[error("the request has no {0} header")]
    MissingHeader(&'static str),
    /// `Authorization` is not the HMAC-SHA256 scheme with the expected signed headers.
    #[error("the Authorization header must be 'HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=<base64>'")]
    BadScheme,
    /// `x-ms-date` is not an RFC 1123 date.
    #[error("the x-ms-date header is not an RFC 1123 date")]
    BadDate,
    /// `x-ms-date` is too far from the server's clock.
    #[error("the x-ms-date header is more than 15 minutes from the server's time")]
    StaleDate,
    /// `x-ms-content-sha256` does not match the body.
    #[error("the x-ms-content-sha256 header does not match the request body")]
    ContentHashMismatch,
    /// The signature does not match.
    #[error("the request signature does not match")]
    SignatureMismatch,
}

impl AccessKey {
    /// A fresh random 256-bit key.
    pub fn generate() -> Self {
        let mut key = vec![0; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        AccessKey(key)
    }

    /// Wraps stored key bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        AccessKey(bytes)
    }

    /// The key bytes, for storing.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Parses a base64 key. The error does not repeat the input.
    pub fn from_base64(text: &str) -> Result<Self, String> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| "the access key is not valid base64".to_owned())?;
        if bytes.len() < 16 {
            return Err("the access key must be at least 16 bytes".into());
        }
        Ok(AccessKey(bytes))
    }

    /// The key as base64, as a connection string carries it.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(&self.0)
    }

    fn mac(&self, string_to_sign: &str) -> Hmac<Sha256> {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(string_to_sign.as_bytes());
        mac
    }

    /// Signs a request: the headers a client adds (`x-ms-date`, `x-ms-content-sha256`,
    /// `Authorization`), in that order.
    pub fn sign(
        &self,
        method: &str,
        path_and_query: &str,
        host: &str,
        date: SystemTime,
        body: &[u8],
    ) -> [(&'static str, String); 3] {
        let date = httpdate::fmt_http_date(date);
        let content_sha256 = content_sha256(body);
        let signature = STANDARD.encode(
            self.mac(&string_to_sign(
                method,
                path_and_query,
                &date,
                host,
                &content_sha256,
            ))
            .finalize()
            .into_bytes(),
        );
        [
            ("x-ms-date", date),
            ("x-ms-content-sha256", content_sha256),
            ("authorization", format!("{AUTH_PREFIX}{signature}")),
        ]
    }

    /// Checks a request's signature at time `now`.
    pub fn verify(
        &self,
        request: &SignedRequest<'_>,
        now: SystemTime,
    ) -> Result<(), SignatureError> {
        let authorization = request
            .authorization
            .ok_or(SignatureError::MissingHeader("Authorization"))?;
        let date = request
            .date
            .ok_or(SignatureError::MissingHeader("x-ms-date"))?;
        let content_sha256 = request
            .content_sha256
            .ok_or(SignatureError::MissingHeader("x-ms-content-sha256"))?;
        let host = request.host.ok_or(SignatureError::MissingHeader("Host"))?;
        let signature = authorization
            .strip_prefix(AUTH_PREFIX)
            .and_then(|s| STANDARD.decode(s).ok())
            .ok_or(SignatureError::BadScheme)?;
        let sent_at = httpdate::parse_http_date(date).map_err(|_| SignatureError::BadDate)?;
        let skew = now
            .duration_since(sent_at)
            .unwrap_or_else(|ahead| ahead.duration());
        if skew > MAX_CLOCK_SKEW {
            return Err(SignatureError::StaleDate);
        }
        if content_sha256 != self::content_sha256(request.body) {
            return Err(SignatureError::ContentHashMismatch);
        }
        self.mac(&string_to_sign(
            request.method,
            request.path_and_query,
            date,
            host,
            content_sha256,
        ))
        .verify_slice(&signature)
        .map_err(|_| SignatureError::SignatureMismatch)
    }
}

fn string_to_sign(
    method: &str,
    path_and_query: &str,
    date: &str,
    host: &str,
    hash: &str,
) -> String {
    format!("{method}\n{path_and_query}\n{date};{host};{hash}")
}

/// Base64 SHA-256 of a body, the value of `x-ms-content-sha256`.
pub fn content_sha256(body: &[u8]) -> String {
    STANDARD.encode(Sha256::digest(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> AccessKey {
        AccessKey::from_base64("c2VjcmV0LWtleS1mb3ItdGVzdGluZy0xMjM0NTY3OA==").unwrap()
    }

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    /// The headers of a POST to /identities, signed at t = 1000 s.
    fn sign_at_1000(body: &[u8]) -> [(&'static str, String); 3] {
        key().sign(
            "POST",
            "/identities?api-version=2023-10-01",
            "127.0.0.1:8080",
            at(1000),
            body,
        )
    }

    fn request<'a>(headers: &'a [(&'static str, String); 3], body: &'a [u8]) -> SignedRequest<'a> {
        SignedRequest {
            method: "POST",
            path_and_query: "/identities?api-version=2023-10-01",
            host: Some("127.0.0.1:8080"),
            date: Some(&headers[0].1),
            content_sha256: Some(&headers[1].1),
            authorization: Some(&headers[2].1),
            body,
        }
    }

    /// A known answer, computed independently with Python's hmac/hashlib/base64 from the
    /// documented string-to-sign, so that signing and verifying cannot share one mistake.
    #[test]
    fn signature_matches_an_independent_computation() {
        let body = br#"{"createTokenWithScopes":["voip"]}"#;
        let headers = key().sign(
            "POST",
            "/identities?api-version=2023-10-01",
            "127.0.0.1:8080",
            at(1_700_000_000),
            body,
        );
        assert_eq!(headers[0].1, "Tue, 14 Nov 2023 22:13:20 GMT");
        assert_eq!(headers[1].1, "k4k9IoKBLYipoiXK3LctfBcfghISSb6AI45ji7ILZfg=");
        assert_eq!(
            headers[2].1,
            "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=6NPm2VoUWUCYTv7IAdeYv8RsfIRUFd8IcxbKFtEK/24="
        );
    }

    #[test]
    fn a_signed_request_verifies_within_the_skew() {
        let body = b"{}";
        let headers = sign_at_1000(body);
        let req = request(&headers, body);
        assert_eq!(key().verify(&req, at(1000)), Ok(()));
        assert_eq!(key().verify(&req, at(1000 + 14 * 60)), Ok(()));
        assert_eq!(key().verify(&req, at(1000 - 14 * 60)), Ok(()));
        assert_eq!(
            key().verify(&req, at(1000 + 16 * 60)),
            Err(SignatureError::StaleDate)
        );
    }

    #[test]
    fn every_tampering_is_refused() {
        let body = b"{\"a\":1}";
        let headers = sign_at_1000(body);
        let now = at(1000);
        let other_key = AccessKey::from_base64("b3RoZXIta2V5LW90aGVyLWtleS1vdGhlcg==").unwrap();
        assert_eq!(
            other_key.verify(&request(&headers, body), now),
            Err(SignatureError::SignatureMismatch)
        );
        assert_eq!(
            key().verify(&request(&headers, b"{\"a\":2}"), now),
            Err(SignatureError::ContentHashMismatch)
        );
        type Tamper = fn(&mut SignedRequest<'_>);
        let cases: [(Tamper, SignatureError); 6] = [
            (|r| r.method = "DELETE", SignatureError::SignatureMismatch),
            (
                |r| r.path_and_query = "/identities",
                SignatureError::SignatureMismatch,
            ),
            (
                |r| r.host = Some("evil:8080"),
                SignatureError::SignatureMismatch,
            ),
            (
                |r| r.authorization = None,
                SignatureError::MissingHeader("Authorization"),
            ),
            (
                |r| r.authorization = Some("Bearer x"),
                SignatureError::BadScheme,
            ),
            (|r| r.date = Some("yesterday"), SignatureError::BadDate),
        ];
        for (tamper, expected) in cases {
            let mut req = request(&headers, body);
            tamper(&mut req);
            assert_eq!(key().verify(&req, now), Err(expected));
        }
    }

    #[test]
    fn keys_parse_and_never_print() {
        assert!(AccessKey::from_base64("@@@").is_err());
        assert!(AccessKey::from_base64("c2hvcnQ=").is_err());
        let generated = AccessKey::generate();
        assert_eq!(
            AccessKey::from_base64(&generated.to_base64()),
            Ok(generated.clone())
        );
        assert_eq!(format!("{generated:?}"), "AccessKey(<redacted>)");
        let err = AccessKey::from_base64("sekrit!!").unwrap_err();
        assert!(!err.contains("sekrit"));
    }
}
