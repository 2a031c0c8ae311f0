//! TURN credentials for clients behind NAT, in the "TURN REST API" form coturn understands
//! (`use-auth-secret`): a username `<expiry>:<identity>` and a password that is the base64
//! HMAC-SHA1 of the username under a secret shared with the TURN server. Nothing is stored;
//! the TURN server checks the password and the expiry itself.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rtcall_protocol::signal::IceServer;
use std::fmt;
use std::time::{Duration, SystemTime};

/// TURN settings.
#[derive(Clone)]
pub struct TurnConfig {
    /// Server URLs (`turn:host:3478?transport=udp`, `turns:host:5349`).
    pub urls: Vec<String>,
    /// The secret shared with the TURN server (coturn's `static-auth-secret`).
    pub secret: String,
    /// How long credentials stay valid.
    pub ttl: Duration,
}

impl fmt::Debug for TurnConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TurnConfig")
            .field("urls", &self.urls)
            .field("secret", &"<redacted>")
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl TurnConfig {
    /// Credentials for `identity`, valid for the configured time from `now` but never past
    /// `token_expiry` (the access token they were given for).
    pub fn credentials(
        &self,
        identity: &str,
        now: SystemTime,
        token_expiry: SystemTime,
    ) -> IceServer {
        let expiry = crate::identity::unix_secs((now + self.ttl).min(token_expiry));
        let username = format!("{expiry}:{identity}");
        // HMAC accepts keys of any length.
        let mut mac =
            Hmac::<sha1::Sha1>::new_from_slice(self.secret.as_bytes()).expect("any key length");
        mac.update(username.as_bytes());
        IceServer {
            urls: self.urls.clone(),
            username: Some(username),
            credential: Some(STANDARD.encode(mac.finalize().into_bytes())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A known answer computed independently (Python's hmac with SHA-1).
    #[test]
    fn credentials_are_coturn_rest_api_credentials() {
        let config = TurnConfig {
            urls: vec!["turn:127.0.0.1:3478".into()],
            secret: "turn-secret".into(),
            ttl: Duration::from_secs(1000),
        };
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_799_999_000);
        let far = now + Duration::from_secs(86_400);
        let server = config.credentials("8:acs:r_u", now, far);
        assert_eq!(server.username.as_deref(), Some("1800000000:8:acs:r_u"));
        assert_eq!(
            server.credential.as_deref(),
            Some("cLyeAGD9ckwzhQYECILrIvG8u6s=")
        );
        // A token that expires sooner bounds them.
        let soon = now + Duration::from_secs(100);
        let bounded = config.credentials("8:acs:r_u", now, soon);
        assert_eq!(bounded.username.as_deref(), Some("1799999100:8:acs:r_u"));
        assert!(!format!("{config:?}").contains("turn-secret"));
    }
}
