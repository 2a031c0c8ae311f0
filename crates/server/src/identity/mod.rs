//! Identities and access tokens: creating and deleting identities, issuing Ed25519-signed JWTs,
//! revoking them, and verifying the tokens clients present.
//!
//! [`IdentityService`] holds the signing key and an in-memory copy of every identity's revocation
//! epoch, so verifying a token (done on every connection) never touches the database; changes are
//! written to the [`Store`] first, then to memory. The HTTP surface, compatible with the Azure
//! Communication Services identity REST API, is in [`routes`].

mod access_key;
pub mod routes;

pub use access_key::{content_sha256, AccessKey, SignatureError, SignedRequest};

use crate::store::{Store, StoreError};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rtcall_protocol::token::{self, base64url, Scope, TokenClaims};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

/// Shortest token lifetime a client may ask for.
pub const MIN_TOKEN_LIFETIME: Duration = Duration::from_secs(60 * 60);
/// Longest token lifetime, and the default.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// How far in the future a token's `iat` may be (clock skew between nodes).
const MAX_ISSUE_SKEW_SECS: u64 = 5 * 60;

/// A failed identity operation.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// No such identity (never created, deleted, or of another resource).
    #[error("identity not found")]
    NotFound,
    /// A lifetime outside 60–1440 minutes.
    #[error("expiresInMinutes must be between 60 and 1440")]
    InvalidLifetime,
    /// No scope was asked for.
    #[error("at least one scope is required")]
    NoScopes,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a presented token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejection {
    /// Not a JWT, or not one of ours in shape (algorithm, claims).
    #[error("the access token is malformed")]
    Malformed,
    /// The signature does not verify: forged, altered, or signed by another service.
    #[error("the access token's signature is invalid")]
    BadSignature,
    /// Past its `exp`, or issued in the future.
    #[error("the access token has expired")]
    Expired,
    /// The identity's tokens were revoked after this one was issued.
    #[error("the access token has been revoked")]
    Revoked,
    /// The identity was deleted.
    #[error("the access token's identity no longer exists")]
    UnknownIdentity,
}

/// A freshly signed token.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The compact JWT.
    pub token: String,
    /// When it expires.
    pub expires_on: SystemTime,
}

/// The identity service.
#[derive(Debug)]
pub struct IdentityService {
    store: Arc<Store>,
    resource_id: String,
    issuer: String,
    signing_key: SigningKey,
    key_id: String,
    epochs: RwLock<HashMap<String, u32>>,
}

impl IdentityService {
    /// Loads the resource id, the signing key and the identities from `store`, creating the
    /// first two on first start. `issuer` is the service's public URL.
    pub fn load(store: Arc<Store>, issuer: String) -> std::io::Result<Self> {
        let resource_id = store
            .setting_or_init("resource_id", || {
                uuid::Uuid::new_v4().to_string().into_bytes()
            })
            .map_err(std::io::Error::other)?;
        let resource_id = String::from_utf8_lossy(&resource_id).into_owned();
        let seed = store
            .setting_or_init("token_signing_key", || {
                SigningKey::generate(&mut rand::rngs::OsRng)
                    .to_bytes()
                    .to_vec()
            })
            .map_err(std::io::Error::other)?;
        // Only this function writes the setting, always 32 bytes. Another length means the file
        // was edited by hand; replacing the key silently would void every token, so refuse.
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| std::io::Error::other("the stored token signing key is corrupt"))?;
        let signing_key = SigningKey::from_bytes(&seed);
        let key_id = key_id(&signing_key.verifying_key());
        let epochs = store
            .identities()
            .map_err(std::io::Error::other)?
            .into_iter()
            .collect();
        Ok(IdentityService {
            store,
            resource_id,
            issuer,
            signing_key,
            key_id,
            epochs: RwLock::new(epochs),
        })
    }

    /// The communication resource id, part of every identity id.
    pub fn resource_id(&self) -> &str {
        &self.resource_id
    }

    /// The token issuer (public URL).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    fn epochs(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, u32>> {
        // The map is only ever replaced entry by entry, so a poisoned lock still holds a
        // consistent map.
        self.epochs.read().unwrap_or_else(|p| p.into_inner())
    }

    fn epochs_mut(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, u32>> {
        self.epochs.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Creates an identity; returns its raw id, `8:acs:<resource id>_<uuid>`.
    pub fn create_identity(&self, now: SystemTime) -> Result<String, IdentityError> {
        let id = format!("8:acs:{}_{}", self.resource_id, uuid::Uuid::new_v4());
        self.store.insert_identity(&id, unix_secs(now))?;
        self.epochs_mut().insert(id.clone(), 0);
        Ok(id)
    }

    /// Whether `id` is an existing identity.
    pub fn exists(&self, id: &str) -> bool {
        self.epochs().contains_key(id)
    }

    /// Deletes an identity; its tokens stop working at once.
    pub fn delete_identity(&self, id: &str) -> Result<(), IdentityError> {
        if !self.exists(id) {
            return Err(IdentityError::NotFound);
        }
        self.store.delete_identity(id)?;
        self.epochs_mut().remove(id);
        Ok(())
    }

    /// Revokes every token issued to `id` so far.
    pub fn revoke_tokens(&self, id: &str) -> Result<(), IdentityError> {
        let epoch = self
            .epochs()
            .get(id)
            .copied()
            .ok_or(IdentityError::NotFound)?;
        let next = epoch.saturating_add(1);
        self.store.set_revocation_epoch(id, next)?;
        self.epochs_mut().insert(id.to_owned(), next);
        Ok(())
    }

    /// Issues a token for `id` with `scopes`, valid for `lifetime` (60 min to 24 h).
    pub fn issue_token(
        &self,
        id: &str,
        scopes: &[Scope],
        lifetime: Duration,
        now: SystemTime,
    ) -> Result<IssuedToken, IdentityError> {
        validate_token_request(scopes, lifetime)?;
        let rev = *self.epochs().get(id).ok_or(IdentityError::NotFound)?;
        let mut scp = scopes.to_vec();
        scp.dedup();
        let iat = unix_secs(now);
        let claims = TokenClaims {
            sub: id.to_owned(),
            scp,
            iat,
            exp: iat + lifetime.as_secs(),
            resource_id: self.resource_id.clone(),
            iss: self.issuer.clone(),
            rev,
        };
        Ok(IssuedToken {
            token: self.sign(&claims),
            expires_on: SystemTime::UNIX_EPOCH + Duration::from_secs(claims.exp),
        })
    }

    fn sign(&self, claims: &TokenClaims) -> String {
        let header = serde_json::json!({"alg": "EdDSA", "typ": "JWT", "kid": self.key_id});
        let signing_input = format!(
            "{}.{}",
            base64url(header.to_string().as_bytes()),
            // Serializing plain strings and numbers cannot fail.
            base64url(&serde_json::to_vec(claims).expect("claims serialize"))
        );
        let signature = self.signing_key.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", base64url(&signature.to_bytes()))
    }

    /// Verifies a token at `now`: signature, expiry, resource, and that its identity exists and
    /// has not had its tokens revoked since.
    pub fn verify_token(
        &self,
        token: &str,
        now: SystemTime,
    ) -> Result<TokenClaims, TokenRejection> {
        let parts = token::split(token).map_err(|_| TokenRejection::Malformed)?;
        let header: serde_json::Value =
            serde_json::from_slice(&parts.header).map_err(|_| TokenRejection::Malformed)?;
        if header["alg"] != "EdDSA" {
            return Err(TokenRejection::Malformed);
        }
        let signature =
            Signature::from_slice(&parts.signature).map_err(|_| TokenRejection::BadSignature)?;
        self.signing_key
            .verifying_key()
            .verify_strict(parts.signing_input.as_bytes(), &signature)
            .map_err(|_| TokenRejection::BadSignature)?;
        let claims = token::parse_claims(&parts.payload).map_err(|_| TokenRejection::Malformed)?;
        if claims.resource_id != self.resource_id {
            return Err(TokenRejection::BadSignature);
        }
        let now = unix_secs(now);
        if claims.exp <= now || claims.iat > now + MAX_ISSUE_SKEW_SECS {
            return Err(TokenRejection::Expired);
        }
        match self.epochs().get(&claims.sub) {
            None => Err(TokenRejection::UnknownIdentity),
            Some(&epoch) if claims.rev < epoch => Err(TokenRejection::Revoked),
            Some(_) => Ok(claims),
        }
    }

    /// The public signing key as a JSON Web Key Set, so other nodes can verify tokens.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({"keys": [{
            "kty": "OKP",
            "crv": "Ed25519",
            "alg": "EdDSA",
            "use": "sig",
            "kid": self.key_id,
            "x": base64url(self.signing_key.verifying_key().as_bytes()),
        }]})
    }
}

/// Checks what a token request asks for: at least one scope, a lifetime of 60 min to 24 h.
pub fn validate_token_request(scopes: &[Scope], lifetime: Duration) -> Result<(), IdentityError> {
    if !(MIN_TOKEN_LIFETIME..=MAX_TOKEN_LIFETIME).contains(&lifetime) {
        return Err(IdentityError::InvalidLifetime);
    }
    if scopes.is_empty() {
        return Err(IdentityError::NoScopes);
    }
    Ok(())
}

/// A key's id: the first 8 bytes of the SHA-256 of its public key, hex.
fn key_id(key: &VerifyingKey) -> String {
    Sha256::digest(key.as_bytes())[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Seconds since the Unix epoch (0 for times before it).
pub fn unix_secs(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn service() -> (tempfile::TempDir, IdentityService) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let service = IdentityService::load(store, "http://127.0.0.1:8080/".into()).unwrap();
        (dir, service)
    }

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    #[test]
    fn issued_tokens_verify_until_they_expire() {
        let (_dir, service) = service();
        let id = service.create_identity(now()).unwrap();
        assert!(id.starts_with(&format!("8:acs:{}_", service.resource_id())));
        let issued = service
            .issue_token(&id, &[Scope::Voip], HOUR, now())
            .unwrap();
        assert_eq!(issued.expires_on, now() + HOUR);
        let claims = service.verify_token(&issued.token, now()).unwrap();
        assert_eq!(claims.sub, id);
        assert_eq!(claims.scp, [Scope::Voip]);
        assert_eq!(claims.iss, "http://127.0.0.1:8080/");
        assert_eq!(
            service.verify_token(&issued.token, now() + HOUR),
            Err(TokenRejection::Expired)
        );
    }

    #[test]
    fn lifetimes_outside_an_hour_to_a_day_are_refused() {
        let (_dir, service) = service();
        let id = service.create_identity(now()).unwrap();
        for minutes in [0, 59, 1441] {
            let lifetime = Duration::from_secs(minutes * 60);
            assert!(matches!(
                service.issue_token(&id, &[Scope::Voip], lifetime, now()),
                Err(IdentityError::InvalidLifetime)
            ));
        }
        assert!(matches!(
            service.issue_token(&id, &[], HOUR, now()),
            Err(IdentityError::NoScopes)
        ));
    }

    #[test]
    fn revoking_voids_earlier_tokens_only() {
        let (_dir, service) = service();
        let id = service.create_identity(now()).unwrap();
        let before = service
            .issue_token(&id, &[Scope::Voip], HOUR, now())
            .unwrap();
        service.revoke_tokens(&id).unwrap();
        let after = service
            .issue_token(&id, &[Scope::Voip], HOUR, now())
            .unwrap();
        assert_eq!(
            service.verify_token(&before.token, now()),
            Err(TokenRejection::Revoked)
        );
        assert!(service.verify_token(&after.token, now()).is_ok());
        service.delete_identity(&id).unwrap();
        assert_eq!(
            service.verify_token(&after.token, now()),
            Err(TokenRejection::UnknownIdentity)
        );
        assert!(matches!(
            service.revoke_tokens(&id),
            Err(IdentityError::NotFound)
        ));
    }

    #[test]
    fn forged_and_altered_tokens_are_refused() {
        let (_dir, service) = service();
        let (_other_dir, other) = self::service();
        let id = service.create_identity(now()).unwrap();
        let token = service
            .issue_token(&id, &[Scope::Voip], HOUR, now())
            .unwrap()
            .token;
        // Signed by another service's key.
        let foreign = other.create_identity(now()).unwrap();
        let foreign = other
            .issue_token(&foreign, &[Scope::Voip], HOUR, now())
            .unwrap();
        assert_eq!(
            service.verify_token(&foreign.token, now()),
            Err(TokenRejection::BadSignature)
        );
        // Claims swapped for a longer expiry under the original signature.
        let (header, rest) = token.split_once('.').unwrap();
        let (_, signature) = rest.split_once('.').unwrap();
        let mut claims = token::decode_unverified(&token).unwrap();
        claims.exp += 3600;
        let altered = format!(
            "{header}.{}.{signature}",
            base64url(&serde_json::to_vec(&claims).unwrap())
        );
        assert_eq!(
            service.verify_token(&altered, now()),
            Err(TokenRejection::BadSignature)
        );
        // `alg: none` with an empty signature.
        let none = format!(
            "{}.{}.",
            base64url(br#"{"alg":"none"}"#),
            base64url(&serde_json::to_vec(&claims).unwrap())
        );
        assert_eq!(
            service.verify_token(&none, now()),
            Err(TokenRejection::Malformed)
        );
        assert_eq!(
            service.verify_token("garbage", now()),
            Err(TokenRejection::Malformed)
        );
    }

    #[test]
    fn keys_and_identities_survive_a_reload() {
        let (dir, service) = service();
        let id = service.create_identity(now()).unwrap();
        let token = service
            .issue_token(&id, &[Scope::Voip], HOUR, now())
            .unwrap()
            .token;
        service.revoke_tokens(&id).unwrap();
        let fresh = service
            .issue_token(&id, &[Scope::Voip], HOUR, now())
            .unwrap()
            .token;
        let jwks = service.jwks();
        drop(service);
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let reloaded = IdentityService::load(store, "http://127.0.0.1:8080/".into()).unwrap();
        assert_eq!(reloaded.jwks(), jwks);
        assert_eq!(
            reloaded.verify_token(&token, now()),
            Err(TokenRejection::Revoked)
        );
        assert!(reloaded.verify_token(&fresh, now()).is_ok());
    }
}
