//! HTTP digest authentication as SIP trunks use it (RFC 3261 §22, RFC 2617; MD5, `qop=auth`
//! or none): reading a `WWW-Authenticate` / `Proxy-Authenticate` challenge and answering it.

use md5::{Digest as _, Md5};
use std::fmt::Write as _;

/// A server's challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    /// Whether the server asks for `qop=auth` (then a client nonce and count go in).
    pub qop_auth: bool,
}

/// Why a challenge cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigestError {
    /// Not `Digest …` with a realm and a nonce.
    Malformed,
    /// An algorithm other than MD5 (SHA-256 trunks are rare; not supported yet).
    UnsupportedAlgorithm(String),
}

impl std::fmt::Display for DigestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DigestError::Malformed => f.write_str("malformed digest challenge"),
            DigestError::UnsupportedAlgorithm(a) => write!(f, "unsupported digest algorithm {a}"),
        }
    }
}

impl std::error::Error for DigestError {}

/// `name=value` pairs of a challenge or credentials, values unquoted.
fn pairs(fields: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut rest = fields.trim();
    while !rest.is_empty() {
        let Some((name, after)) = rest.split_once('=') else {
            break;
        };
        let after = after.trim_start();
        let (value, tail) = match after.strip_prefix('"') {
            Some(quoted) => match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            },
            None => after.split_once(',').unwrap_or((after, "")),
        };
        pairs.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        rest = tail.trim_start().trim_start_matches(',').trim_start();
    }
    pairs
}

impl Challenge {
    /// Reads a challenge header's value.
    pub fn parse(value: &str) -> Result<Challenge, DigestError> {
        let (scheme, fields) = value.trim().split_once(' ').ok_or(DigestError::Malformed)?;
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(DigestError::Malformed);
        }
        let fields = pairs(fields);
        let get = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        if let Some(algorithm) = get("algorithm").filter(|a| !a.eq_ignore_ascii_case("MD5")) {
            return Err(DigestError::UnsupportedAlgorithm(algorithm));
        }
        Ok(Challenge {
            realm: get("realm").ok_or(DigestError::Malformed)?,
            nonce: get("nonce").ok_or(DigestError::Malformed)?,
            opaque: get("opaque"),
            qop_auth: get("qop").is_some_and(|q| q.split(',').any(|q| q.trim() == "auth")),
        })
    }

    /// The `Authorization` / `Proxy-Authorization` value answering this challenge for a
    /// request. `cnonce` is the client's fresh random string (used with `qop=auth`).
    pub fn answer(
        &self,
        username: &str,
        password: &str,
        method: &str,
        uri: &str,
        cnonce: &str,
    ) -> String {
        let ha1 = md5_hex(&format!("{username}:{}:{password}", self.realm));
        let ha2 = md5_hex(&format!("{method}:{uri}"));
        let nonce_count = "00000001";
        let response = match self.qop_auth {
            true => md5_hex(&format!(
                "{ha1}:{}:{nonce_count}:{cnonce}:auth:{ha2}",
                self.nonce
            )),
            false => md5_hex(&format!("{ha1}:{}:{ha2}", self.nonce)),
        };
        let mut value = format!(
            "Digest username=\"{username}\", realm=\"{}\", nonce=\"{}\", uri=\"{uri}\", response=\"{response}\", algorithm=MD5",
            self.realm, self.nonce
        );
        if self.qop_auth {
            let _ = write!(value, ", qop=auth, nc={nonce_count}, cnonce=\"{cnonce}\"");
        }
        if let Some(opaque) = &self.opaque {
            let _ = write!(value, ", opaque=\"{opaque}\"");
        }
        value
    }
}

fn md5_hex(text: &str) -> String {
    Md5::digest(text.as_bytes())
        .iter()
        .fold(String::with_capacity(32), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response_of(answer: &str) -> String {
        pairs(answer.strip_prefix("Digest ").unwrap())
            .into_iter()
            .find(|(n, _)| n == "response")
            .unwrap()
            .1
    }

    #[test]
    fn answers_rfc_2617s_example() {
        // RFC 2617 §3.5 (the method and URI are HTTP's there; the arithmetic is the same).
        let challenge = Challenge::parse(
            "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        )
        .unwrap();
        assert!(challenge.qop_auth);
        let answer = challenge.answer(
            "Mufasa",
            "Circle Of Life",
            "GET",
            "/dir/index.html",
            "0a4f113b",
        );
        assert_eq!(response_of(&answer), "6629fae49393a05397450978507c4ef1");
        assert!(answer.contains("opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""));
    }

    #[test]
    fn answers_without_qop_as_rfc_2069() {
        let challenge =
            Challenge::parse("Digest realm=\"sip.example\",nonce=abc,algorithm=MD5").unwrap();
        assert!(!challenge.qop_auth);
        let answer = challenge.answer("alice", "secret", "INVITE", "sip:+1555@sip.example", "x");
        let ha1 = md5_hex("alice:sip.example:secret");
        let ha2 = md5_hex("INVITE:sip:+1555@sip.example");
        assert_eq!(response_of(&answer), md5_hex(&format!("{ha1}:abc:{ha2}")));
        assert!(!answer.contains("qop"));
    }

    #[test]
    fn refuses_what_it_cannot_answer() {
        assert_eq!(
            Challenge::parse("Basic realm=\"x\""),
            Err(DigestError::Malformed)
        );
        assert_eq!(
            Challenge::parse("Digest nonce=\"n\""),
            Err(DigestError::Malformed)
        );
        assert_eq!(
            Challenge::parse("Digest realm=\"r\", nonce=\"n\", algorithm=SHA-256"),
            Err(DigestError::UnsupportedAlgorithm("SHA-256".into()))
        );
        assert_eq!(Challenge::parse(""), Err(DigestError::Malformed));
        assert_eq!(
            Challenge::parse("Digest realm=\"unterminated"),
            Err(DigestError::Malformed)
        );
    }
}
