//! Access tokens: the claims rtcall-server signs into a JWT, and reading them back.
//!
//! Tokens are compact JWTs signed with Ed25519 (`alg: EdDSA`). Signing and verification live in
//! the server, which holds the keys; this module only splits a token and decodes its claims, which
//! is all a client needs (the expiry for refreshing, the issuer for knowing where to connect).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a token lets its holder do. The names are the ACS identity API's scope strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Scope {
    /// Chat.
    #[serde(rename = "chat")]
    Chat,
    /// Voice and video calls.
    #[serde(rename = "voip")]
    Voip,
    /// Joining chats the user is invited to.
    #[serde(rename = "chat.join")]
    ChatJoin,
    /// Joining chats, read-only.
    #[serde(rename = "chat.join.limited")]
    ChatJoinLimited,
    /// Joining calls the user is invited to (Rooms), not starting them.
    #[serde(rename = "voip.join")]
    VoipJoin,
}

impl Scope {
    /// Whether this scope lets its holder take part in calls.
    pub fn allows_calling(self) -> bool {
        matches!(self, Scope::Voip | Scope::VoipJoin)
    }
}

/// The claims of an rtcall access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenClaims {
    /// The identity's raw id (`8:acs:<resource>_<uuid>`).
    pub sub: String,
    /// Granted scopes.
    pub scp: Vec<Scope>,
    /// Issued at, seconds since the Unix epoch.
    pub iat: u64,
    /// Expires at, seconds since the Unix epoch.
    pub exp: u64,
    /// The communication resource that issued the identity.
    #[serde(rename = "resourceId")]
    pub resource_id: String,
    /// The service's public URL (`http://127.0.0.1:8080/`): where a holder of this token connects.
    pub iss: String,
    /// The identity's revocation epoch when the token was issued; revoking an identity's tokens
    /// moves the epoch on, and a token from an earlier epoch is refused.
    pub rev: u32,
}

impl TokenClaims {
    /// Expiry in milliseconds since the Unix epoch, as JavaScript's `Date` counts.
    pub fn expires_on_ms(&self) -> u64 {
        self.exp.saturating_mul(1000)
    }
}

/// Why a token could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// Not three dot-separated base64url parts.
    Malformed,
    /// The payload is not the claims JSON.
    BadClaims(String),
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::Malformed => f.write_str("the access token is not a well-formed JWT"),
            TokenError::BadClaims(why) => write!(f, "the access token's claims are invalid: {why}"),
        }
    }
}

impl std::error::Error for TokenError {}

/// A JWT split into its parts, base64url decoded where it matters.
#[derive(Debug)]
pub struct JwtParts<'a> {
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: &'a str,
    /// The decoded header JSON.
    pub header: Vec<u8>,
    /// The decoded payload JSON.
    pub payload: Vec<u8>,
    /// The decoded signature.
    pub signature: Vec<u8>,
}

/// Splits a compact JWT. Bounded: a token over 8 KiB is refused before decoding.
pub fn split(token: &str) -> Result<JwtParts<'_>, TokenError> {
    const MAX_TOKEN_LEN: usize = 8 * 1024;
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| TokenError::Malformed)
    };
    Ok(JwtParts {
        signing_input: &token[..header.len() + 1 + payload.len()],
        header: decode(header)?,
        payload: decode(payload)?,
        signature: decode(signature)?,
    })
}

/// Reads a token's claims without checking its signature: for clients, which need the expiry and
/// issuer but cannot verify (and need not: the server does).
#[cfg(feature = "json")]
pub fn decode_unverified(token: &str) -> Result<TokenClaims, TokenError> {
    let parts = split(token)?;
    parse_claims(&parts.payload)
}

/// Reads only a token's expiry (`exp`), in milliseconds since the Unix epoch: what a credential
/// needs, from any JWT, whoever issued it.
#[cfg(feature = "json")]
pub fn expires_on_ms(token: &str) -> Result<u64, TokenError> {
    #[derive(Deserialize)]
    struct Expiry {
        exp: u64,
    }
    let parts = split(token)?;
    let expiry: Expiry =
        serde_json::from_slice(&parts.payload).map_err(|e| TokenError::BadClaims(e.to_string()))?;
    Ok(expiry.exp.saturating_mul(1000))
}

/// Parses the payload JSON of a token.
#[cfg(feature = "json")]
pub fn parse_claims(payload: &[u8]) -> Result<TokenClaims, TokenError> {
    serde_json::from_slice(payload).map_err(|e| TokenError::BadClaims(e.to_string()))
}

/// Encodes bytes as unpadded base64url, the encoding of JWT parts.
pub fn base64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> TokenClaims {
        TokenClaims {
            sub: "8:acs:r_u".into(),
            scp: vec![Scope::Voip, Scope::ChatJoinLimited],
            iat: 1_700_000_000,
            exp: 1_700_086_400,
            resource_id: "r".into(),
            iss: "http://127.0.0.1:8080/".into(),
            rev: 0,
        }
    }

    fn unsigned(payload: &[u8]) -> String {
        format!(
            "{}.{}.{}",
            base64url(br#"{"alg":"EdDSA","typ":"JWT"}"#),
            base64url(payload),
            base64url(&[0; 64])
        )
    }

    #[test]
    fn claims_round_trip_through_a_token() {
        let token = unsigned(&serde_json::to_vec(&claims()).unwrap());
        let decoded = decode_unverified(&token).unwrap();
        assert_eq!(decoded, claims());
        assert_eq!(decoded.expires_on_ms(), 1_700_086_400_000);
        assert_eq!(expires_on_ms(&token), Ok(1_700_086_400_000));
        // Any JWT with an `exp` will do, whatever its other claims.
        assert_eq!(
            expires_on_ms(&unsigned(br#"{"exp": 5, "skypeid": "x"}"#)),
            Ok(5000)
        );
        let payload = serde_json::to_value(claims()).unwrap();
        assert_eq!(
            payload["scp"],
            serde_json::json!(["voip", "chat.join.limited"])
        );
        assert_eq!(payload["resourceId"], "r");
    }

    #[test]
    fn signing_input_is_header_dot_payload() {
        let token = unsigned(b"{}");
        let parts = split(&token).unwrap();
        assert_eq!(
            parts.signing_input,
            token.rsplit_once('.').map(|(input, _)| input).unwrap()
        );
        assert_eq!(parts.signature, vec![0; 64]);
    }

    #[test]
    fn malformed_tokens_are_errors() {
        for token in ["", "a.b", "a.b.c.d", "!!!.e30.AA", &"a".repeat(9000)] {
            assert_eq!(
                split(token).err(),
                Some(TokenError::Malformed),
                "{token:.20}"
            );
        }
        let token = unsigned(br#"{"sub": 5}"#);
        assert!(matches!(
            decode_unverified(&token),
            Err(TokenError::BadClaims(_))
        ));
    }
}
