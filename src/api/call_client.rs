//! `CallClient`: the library's entry object. It holds the options every call made through it
//! shares (TURN servers, logger) and creates the call agent and the device manager.

use super::error::ApiError;
use serde::Deserialize;
use wasm_bindgen::prelude::*;

/// One ICE (STUN/TURN) server, as in `RTCIceServer`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IceServer {
    /// Server URLs (`turn:host:3478?transport=udp`, …).
    #[serde(deserialize_with = "one_or_many")]
    pub urls: Vec<String>,
    /// TURN user name.
    pub username: Option<String>,
    /// TURN password.
    pub credential: Option<String>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(url) => vec![url],
        OneOrMany::Many(urls) => urls,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CallClientOptions {
    #[serde(default)]
    network_configuration: NetworkConfiguration,
}

#[derive(Debug, Default, Deserialize)]
struct NetworkConfiguration {
    turn: Option<TurnConfiguration>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TurnConfiguration {
    ice_servers: Vec<IceServer>,
}

/// The entry object (`CallClient`).
#[wasm_bindgen]
#[derive(Debug, Clone)]
pub struct CallClient {
    ice_servers: Vec<IceServer>,
}

impl CallClient {
    /// The TURN/STUN servers calls use in addition to the service's own.
    pub fn ice_servers(&self) -> &[IceServer] {
        &self.ice_servers
    }
}

#[wasm_bindgen]
impl CallClient {
    /// `new CallClient(options?)`. Options the library does not use (`logger`, `diagnostics`)
    /// are accepted and ignored; malformed ones are refused.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "CallClientOptions")] options: JsValue,
    ) -> Result<CallClient, ApiError> {
        let options: CallClientOptions = if options.is_undefined() || options.is_null() {
            CallClientOptions::default()
        } else {
            serde_wasm_bindgen::from_value(options).map_err(|e| {
                ApiError::invalid_argument(format!("invalid CallClientOptions: {e}"))
            })?
        };
        let ice_servers = options
            .network_configuration
            .turn
            .map(|turn| turn.ice_servers)
            .unwrap_or_default();
        if let Some(server) = ice_servers.iter().find(|s| s.urls.is_empty()) {
            return Err(ApiError::invalid_argument(format!(
                "an ICE server has no urls: {server:?}"
            )));
        }
        Ok(CallClient { ice_servers })
    }
}
