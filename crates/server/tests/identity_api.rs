//! The identity REST API over real HTTP against the real binary: good requests, every kind of
//! bad request, token checks, restarts, production mode, and no secrets in the logs.

mod common;

use common::{data_dir, reply, IdentityClient, Reply, TestServer};
use ed25519_dalek::{Signer, SigningKey};
use rtcall_protocol::token::{self, base64url};
use rtcall_server::identity::AccessKey;
use serde_json::json;
use std::time::{Duration, SystemTime};

const API: &str = "api-version=2023-10-01";

fn test_key() -> AccessKey {
    AccessKey::from_base64("dGVzdC1hY2Nlc3Mta2V5LXRoaXJ0eS10d28tYnl0ZXMh").unwrap()
}

fn start(dir: &std::path::Path) -> (TestServer, IdentityClient) {
    let server = TestServer::start(
        common::SERVER_BIN,
        dir,
        &["--access-key", &test_key().to_base64()],
    );
    let client = IdentityClient::new(&server, test_key());
    (server, client)
}

async fn session(server: &TestServer, token: &str) -> Reply {
    let response = reqwest::Client::new()
        .get(server.at("session"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    reply(response).await
}

fn encode(id: &str) -> String {
    id.replace(':', "%3A")
}

async fn create_with_token(client: &IdentityClient, body: serde_json::Value) -> (String, String) {
    let created = client
        .send(
            "POST",
            &format!("/identities?{API}"),
            body.to_string().as_bytes(),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    (
        created.body["identity"]["id"].as_str().unwrap().to_owned(),
        created.body["accessToken"]["token"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

#[tokio::test]
async fn create_identity_with_and_without_a_token() {
    let dir = data_dir();
    let (server, client) = start(dir.path());

    let plain = client
        .send("POST", &format!("/identities?{API}"), b"")
        .await;
    assert_eq!(plain.status, 201);
    let id = plain.body["identity"]["id"].as_str().unwrap();
    let (prefix, uuid) = id.rsplit_once('_').unwrap();
    assert!(prefix.starts_with("8:acs:"), "{id}");
    assert_eq!(uuid.len(), 36, "{id}");
    assert!(plain.body.get("accessToken").is_none());

    let body = json!({"createTokenWithScopes": ["voip", "chat"], "expiresInMinutes": 60});
    let created = client
        .send(
            "POST",
            &format!("/identities?{API}"),
            body.to_string().as_bytes(),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["identity"]["id"].as_str().unwrap();
    let token = created.body["accessToken"]["token"].as_str().unwrap();
    let claims = token::decode_unverified(token).unwrap();
    assert_eq!(claims.sub, id);
    assert_eq!(claims.iss, server.url);
    assert_eq!(claims.exp - claims.iat, 3600);
    assert_eq!(
        serde_json::to_value(&claims.scp).unwrap(),
        json!(["voip", "chat"])
    );
    assert!(id.starts_with(&format!("8:acs:{}_", claims.resource_id)));
    let expires_on = created.body["accessToken"]["expiresOn"].as_str().unwrap();
    let expires_on = humantime::parse_rfc3339(expires_on).unwrap();
    assert_eq!(
        expires_on,
        SystemTime::UNIX_EPOCH + Duration::from_secs(claims.exp)
    );

    let me = session(&server, token).await;
    assert_eq!(me.status, 200, "{:?}", me.body);
    assert_eq!(me.body["identity"]["id"], id);
}

#[tokio::test]
async fn issue_revoke_and_delete() {
    let dir = data_dir();
    let (server, client) = start(dir.path());
    let (id, first) = create_with_token(&client, json!({"createTokenWithScopes": ["voip"]})).await;
    let claims = token::decode_unverified(&first).unwrap();
    assert_eq!(
        claims.exp - claims.iat,
        24 * 3600,
        "default lifetime is 24 h"
    );

    let path = format!("/identities/{}/:issueAccessToken?{API}", encode(&id));
    let issued = client
        .send(
            "POST",
            &path,
            br#"{"scopes": ["voip"], "expiresInMinutes": 1440}"#,
        )
        .await;
    assert_eq!(issued.status, 200, "{:?}", issued.body);
    let second = issued.body["token"].as_str().unwrap().to_owned();
    assert!(issued.body["expiresOn"].is_string());

    let revoked = client
        .send(
            "POST",
            &format!("/identities/{}/:revokeAccessTokens?{API}", encode(&id)),
            b"",
        )
        .await;
    assert_eq!(revoked.status, 204);
    for token in [&first, &second] {
        let me = session(&server, token).await;
        assert_eq!((me.status, me.error_code()), (401, "TokenRevoked"));
    }
    let third = client.send("POST", &path, br#"{"scopes": ["voip"]}"#).await;
    let third = third.body["token"].as_str().unwrap().to_owned();
    assert_eq!(session(&server, &third).await.status, 200);

    let deleted = client
        .send("DELETE", &format!("/identities/{}?{API}", encode(&id)), b"")
        .await;
    assert_eq!(deleted.status, 204);
    let me = session(&server, &third).await;
    assert_eq!((me.status, me.error_code()), (401, "InvalidToken"));
    let again = client.send("POST", &path, br#"{"scopes": ["voip"]}"#).await;
    assert_eq!(
        (again.status, again.error_code()),
        (404, "IdentityNotFound")
    );
    let deleted_twice = client
        .send("DELETE", &format!("/identities/{}?{API}", encode(&id)), b"")
        .await;
    assert_eq!(deleted_twice.status, 404);
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let dir = data_dir();
    let (server, client) = start(dir.path());
    let (id, _) = create_with_token(&client, json!({"createTokenWithScopes": ["voip"]})).await;
    let issue = format!("/identities/{}/:issueAccessToken?{API}", encode(&id));
    let create = format!("/identities?{API}");

    let cases: Vec<(&str, String, Vec<u8>, u16, &str)> = vec![
        (
            "POST",
            create.clone(),
            b"{not json".to_vec(),
            400,
            "InvalidRequest",
        ),
        (
            "POST",
            create.clone(),
            br#"{"createTokenWithScopes": ["admin"]}"#.to_vec(),
            400,
            "InvalidRequest",
        ),
        (
            "POST",
            create.clone(),
            br#"{"createTokenWithScopes": ["voip"], "expiresInMinutes": 59}"#.to_vec(),
            400,
            "InvalidRequest",
        ),
        (
            "POST",
            create.clone(),
            br#"{"createTokenWithScopes": "voip"}"#.to_vec(),
            400,
            "InvalidRequest",
        ),
        (
            "POST",
            create.clone(),
            br#"{"surprise": 1}"#.to_vec(),
            400,
            "InvalidRequest",
        ),
        (
            "POST",
            issue.clone(),
            br#"{"scopes": ["voip"], "expiresInMinutes": 1441}"#.to_vec(),
            400,
            "InvalidRequest",
        ),
        (
            "POST",
            issue.clone(),
            br#"{"scopes": []}"#.to_vec(),
            400,
            "InvalidRequest",
        ),
        ("POST", issue.clone(), b"".to_vec(), 400, "InvalidRequest"),
        (
            "POST",
            format!("/identities/8%3Aacs%3Anobody_x/:issueAccessToken?{API}"),
            br#"{"scopes": ["voip"]}"#.to_vec(),
            404,
            "IdentityNotFound",
        ),
        (
            "POST",
            format!("/identities/{}/:explode?{API}", encode(&id)),
            b"".to_vec(),
            404,
            "NotFound",
        ),
        (
            "POST",
            create.clone(),
            vec![b' '; 100 * 1024],
            413,
            "PayloadTooLarge",
        ),
        ("PUT", create.clone(), b"".to_vec(), 405, "MethodNotAllowed"),
    ];
    for (method, path, body, status, code) in cases {
        let got = client.send(method, &path, &body).await;
        assert_eq!(
            (got.status, got.error_code()),
            (status, code),
            "{method} {path} {:.60}: {:?}",
            String::from_utf8_lossy(&body),
            got.body
        );
        assert!(
            got.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{:?}",
            got.body
        );
    }
    // A rejected create made no identity: the server still has exactly one.
    let still_valid = client
        .send("POST", &issue, br#"{"scopes": ["voip"]}"#)
        .await;
    assert_eq!(still_valid.status, 200);
    drop(server);
}

#[tokio::test]
async fn unsigned_and_badly_signed_requests_are_refused() {
    let dir = data_dir();
    let (_server, client) = start(dir.path());
    let path = format!("/identities?{API}");
    let now = SystemTime::now();

    let unsigned = client.send_with("POST", &path, Vec::new(), &[]).await;
    assert_eq!(
        (unsigned.status, unsigned.error_code()),
        (401, "Unauthorized")
    );

    let wrong_key = IdentityClient {
        key: AccessKey::generate(),
        ..IdentityClient::new(&_server, test_key())
    };
    let got = wrong_key.send("POST", &path, b"").await;
    assert_eq!((got.status, got.error_code()), (401, "Unauthorized"));

    let stale = client
        .send_signed_at("POST", &path, b"", now - Duration::from_secs(20 * 60))
        .await;
    assert_eq!(stale.status, 401);
    assert!(stale.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("x-ms-date"));

    // Signed for one body, sent with another.
    let headers = client.key.sign("POST", &path, &client.host, now, b"{}");
    let tampered = client
        .send_with(
            "POST",
            &path,
            br#"{"createTokenWithScopes":["voip"]}"#.to_vec(),
            &headers,
        )
        .await;
    assert_eq!(tampered.status, 401);
    assert!(tampered.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("x-ms-content-sha256"));

    // Signed for another path.
    let headers = client
        .key
        .sign("POST", "/identities", &client.host, now, b"");
    let moved = client.send_with("POST", &path, Vec::new(), &headers).await;
    assert_eq!(moved.status, 401);
}

#[tokio::test]
async fn forged_expired_and_malformed_tokens_are_refused() {
    let dir = data_dir();
    let (server, client) = start(dir.path());
    let (_, token) = create_with_token(&client, json!({"createTokenWithScopes": ["voip"]})).await;
    let mut claims = token::decode_unverified(&token).unwrap();

    // Signed with the service's own key (read from its database) but already expired.
    let db = rusqlite::Connection::open(dir.path().join("rtcall.db")).unwrap();
    let seed: Vec<u8> = db
        .query_row(
            "SELECT value FROM settings WHERE name = 'token_signing_key'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let real_key = SigningKey::from_bytes(&seed.try_into().unwrap());
    let sign = |key: &SigningKey, claims: &token::TokenClaims| {
        let input = format!(
            "{}.{}",
            base64url(br#"{"alg":"EdDSA","typ":"JWT"}"#),
            base64url(&serde_json::to_vec(claims).unwrap())
        );
        let signature = key.sign(input.as_bytes()).to_bytes();
        format!("{input}.{}", base64url(&signature))
    };
    claims.iat -= 2 * 24 * 3600;
    claims.exp = claims.iat + 3600;
    let expired = sign(&real_key, &claims);
    let got = session(&server, &expired).await;
    assert_eq!((got.status, got.error_code()), (401, "TokenExpired"));

    // Valid claims, signed with a key of our own making.
    claims.exp = claims.iat + 4 * 24 * 3600;
    let forged = sign(&SigningKey::from_bytes(&[7; 32]), &claims);
    let got = session(&server, &forged).await;
    assert_eq!((got.status, got.error_code()), (401, "InvalidToken"));

    for garbage in ["", "abc", "a.b.c", &"x".repeat(20_000)] {
        let got = session(&server, garbage).await;
        assert_eq!(
            (got.status, got.error_code()),
            (401, "InvalidToken"),
            "{garbage:.20}"
        );
    }
    let no_header = reply(reqwest::get(server.at("session")).await.unwrap()).await;
    assert_eq!(
        (no_header.status, no_header.error_code()),
        (401, "InvalidToken")
    );
}

#[tokio::test]
async fn identities_revocations_and_keys_survive_a_restart() {
    let dir = data_dir();
    // No --access-key: the server generates one and keeps it.
    let server = TestServer::start(common::SERVER_BIN, dir.path(), &[]);
    let connection_string = server.banner[1].clone();
    let key = connection_string
        .split("accesskey=")
        .nth(1)
        .expect("connection string names the key");
    let client = IdentityClient::new(&server, AccessKey::from_base64(key).unwrap());
    let (id, revoked) =
        create_with_token(&client, json!({"createTokenWithScopes": ["voip"]})).await;
    client
        .send(
            "POST",
            &format!("/identities/{}/:revokeAccessTokens", encode(&id)),
            b"",
        )
        .await;
    let kept = client
        .send(
            "POST",
            &format!("/identities/{}/:issueAccessToken", encode(&id)),
            br#"{"scopes":["voip"]}"#,
        )
        .await;
    let kept = kept.body["token"].as_str().unwrap().to_owned();
    server.stop();

    let server = TestServer::start(common::SERVER_BIN, dir.path(), &[]);
    assert_eq!(
        server.banner[1].split("accesskey=").nth(1),
        connection_string.split("accesskey=").nth(1),
        "the access key is kept"
    );
    let client = IdentityClient::new(&server, AccessKey::from_base64(key).unwrap());
    assert_eq!(session(&server, &kept).await.status, 200);
    let got = session(&server, &revoked).await;
    assert_eq!(got.error_code(), "TokenRevoked");
    let issued = client
        .send(
            "POST",
            &format!("/identities/{}/:issueAccessToken", encode(&id)),
            br#"{"scopes":["voip"]}"#,
        )
        .await;
    assert_eq!(
        issued.status, 200,
        "the identity still exists: {:?}",
        issued.body
    );
}

#[tokio::test]
async fn demo_endpoint_in_local_mode_only() {
    let dir = data_dir();
    let server = TestServer::start(common::SERVER_BIN, dir.path(), &[]);
    let demo = reply(
        reqwest::Client::new()
            .post(server.at("demo/identity"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(demo.status, 201);
    let token = demo.body["accessToken"]["token"].as_str().unwrap();
    let me = session(&server, token).await;
    assert_eq!(me.body["identity"]["id"], demo.body["identity"]["id"]);
    assert_eq!(me.body["scopes"], json!(["voip"]));
    server.stop();

    let dir = data_dir();
    let production = TestServer::start(common::SERVER_BIN, dir.path(), &["--production"]);
    let demo = reply(
        reqwest::Client::new()
            .post(production.at("demo/identity"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(demo.status, 404);
    // The key is not printed in production; it is in a file only its owner can read.
    assert!(production.banner.iter().all(|l| !l.contains("accesskey=")));
    let file = dir.path().join("connection-string");
    let contents = std::fs::read_to_string(&file).unwrap();
    assert!(contents.starts_with(&format!("endpoint={};accesskey=", production.url)));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}

#[tokio::test]
async fn tokens_and_keys_never_reach_the_log() {
    let dir = data_dir();
    let (server, client) = start(dir.path());
    let (id, token) = create_with_token(&client, json!({"createTokenWithScopes": ["voip"]})).await;
    session(&server, &token).await;
    session(&server, &format!("{token}x")).await;
    client
        .send(
            "POST",
            &format!("/identities/{}/:issueAccessToken", encode(&id)),
            br#"{"scopes": ["voip"]}"#,
        )
        .await;
    let bad_key = IdentityClient {
        key: AccessKey::generate(),
        ..IdentityClient::new(&server, test_key())
    };
    bad_key.send("POST", "/identities", b"").await;
    let log = server.stop();
    assert!(
        log.contains("/session"),
        "the log is on (trace level): {log:.400}"
    );
    let signature = token.rsplit('.').next().unwrap();
    for secret in [
        token.as_str(),
        signature,
        &test_key().to_base64(),
        &bad_key.key.to_base64(),
    ] {
        assert!(!log.contains(secret), "a secret reached the log");
    }
}

#[tokio::test]
async fn the_jwks_publishes_the_verifying_key() {
    let dir = data_dir();
    let (server, client) = start(dir.path());
    let (_, token) = create_with_token(&client, json!({"createTokenWithScopes": ["voip"]})).await;
    let jwks = reply(
        reqwest::get(server.at(".well-known/jwks.json"))
            .await
            .unwrap(),
    )
    .await;
    let key = &jwks.body["keys"][0];
    assert_eq!(
        (key["kty"].as_str(), key["crv"].as_str()),
        (Some("OKP"), Some("Ed25519"))
    );
    // Verify the token with nothing but the published key, as another node would.
    let x = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        key["x"].as_str().unwrap(),
    )
    .unwrap();
    let verifying = ed25519_dalek::VerifyingKey::from_bytes(&x.try_into().unwrap()).unwrap();
    let parts = token::split(&token).unwrap();
    let signature = ed25519_dalek::Signature::from_slice(&parts.signature).unwrap();
    verifying
        .verify_strict(parts.signing_input.as_bytes(), &signature)
        .expect("the published key verifies the token");
}
