//! When an access token needs refreshing: the timing rules of `AzureCommunicationTokenCredential`,
//! as pure functions of the token's expiry and the current time (milliseconds since the Unix epoch).

/// A token this close to expiry is refreshed before use.
pub const EXPIRING_SOON_MS: u64 = 10 * 60 * 1000;

/// The shortest proactive-refresh delay, so a token at the very end of its life cannot make the
/// schedule spin.
pub const MIN_REFRESH_DELAY_MS: u64 = 1000;

/// A token and its expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    /// The JWT.
    pub token: String,
    /// Expiry, milliseconds since the Unix epoch.
    pub expires_on_ms: u64,
}

impl AccessToken {
    /// Whether the token has expired at `now_ms`.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        now_ms >= self.expires_on_ms
    }

    /// Whether the token is expired or expires within [`EXPIRING_SOON_MS`]: `getToken` refreshes
    /// such a token before returning one.
    pub fn is_expiring_soon(&self, now_ms: u64) -> bool {
        now_ms.saturating_add(EXPIRING_SOON_MS) >= self.expires_on_ms
    }

    /// How long until a proactive refresh should run: when the token enters the expiring-soon
    /// window, or, if it is already inside it, after half of its remaining life. `None` once the
    /// token has expired (the next `getToken` refreshes on demand).
    pub fn proactive_refresh_delay(&self, now_ms: u64) -> Option<u64> {
        if self.is_expired(now_ms) {
            return None;
        }
        let remaining = self.expires_on_ms - now_ms;
        let delay = if self.is_expiring_soon(now_ms) {
            remaining / 2
        } else {
            remaining - EXPIRING_SOON_MS
        };
        Some(delay.max(MIN_REFRESH_DELAY_MS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60 * 1000;

    fn token(expires_on_ms: u64) -> AccessToken {
        AccessToken {
            token: "t".into(),
            expires_on_ms,
        }
    }

    #[test]
    fn expiring_soon_is_the_last_ten_minutes() {
        let t = token(60 * MIN);
        assert!(!t.is_expiring_soon(49 * MIN));
        assert!(t.is_expiring_soon(50 * MIN));
        assert!(!t.is_expired(59 * MIN));
        assert!(t.is_expired(60 * MIN));
        assert!(t.is_expiring_soon(61 * MIN));
    }

    #[test]
    fn proactive_refresh_enters_the_window_then_halves() {
        let t = token(60 * MIN);
        assert_eq!(t.proactive_refresh_delay(0), Some(50 * MIN));
        assert_eq!(t.proactive_refresh_delay(52 * MIN), Some(4 * MIN));
        // Near the end the delay is bounded below, then stops at expiry.
        assert_eq!(
            t.proactive_refresh_delay(60 * MIN - 10),
            Some(MIN_REFRESH_DELAY_MS)
        );
        assert_eq!(t.proactive_refresh_delay(60 * MIN), None);
    }
}
