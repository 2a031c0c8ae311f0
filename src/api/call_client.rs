//! `CallClient`: the library's entry object. It holds what every call made through it shares
//! (TURN servers, the service URL, the devices) and creates call agents (one per identity) and
//! the device manager.

use super::call_agent::{AgentInner, CallAgent};
use super::device_manager::{DeviceManager, DeviceState};
use super::error::{ApiError, SubCode};
use rtcall_protocol::signal::IceServer;
use serde::Deserialize;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IceServerOption {
    #[serde(deserialize_with = "one_or_many")]
    urls: Vec<String>,
    username: Option<String>,
    credential: Option<String>,
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
    /// rtcall's own: the service to use instead of the token's issuer.
    service_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct NetworkConfiguration {
    turn: Option<TurnConfiguration>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TurnConfiguration {
    ice_servers: Vec<IceServerOption>,
}

/// What a client's agents and calls share.
pub struct ClientShared {
    ice_servers: Vec<IceServer>,
    service_url: Option<String>,
    pub(crate) devices: Rc<DeviceState>,
    /// Identities with an agent (or one being created).
    agents: RefCell<Vec<String>>,
}

impl ClientShared {
    /// The app's TURN/STUN servers.
    pub(crate) fn ice_servers(&self) -> Vec<IceServer> {
        self.ice_servers.clone()
    }

    /// An agent went away: its identity may have a new one.
    pub(crate) fn forget_agent(&self, identity: &str) {
        self.agents.borrow_mut().retain(|i| i != identity);
    }
}

/// The entry object (`CallClient`).
#[wasm_bindgen]
#[derive(Clone)]
pub struct CallClient {
    shared: Rc<ClientShared>,
}

impl CallClient {
    /// The TURN/STUN servers calls use in addition to the service's own.
    pub fn ice_servers(&self) -> &[IceServer] {
        &self.shared.ice_servers
    }

    /// Signs in an identity (see `createCallAgent`).
    pub async fn create_call_agent(
        &self,
        credential: JsValue,
        display_name: String,
    ) -> Result<CallAgent, ApiError> {
        let get_token = js_sys::Reflect::get(&credential, &"getToken".into())
            .ok()
            .filter(|f| f.is_function());
        if get_token.is_none() {
            return Err(ApiError::invalid_argument(
                "createCallAgent needs a credential with getToken(), such as AzureCommunicationTokenCredential",
            ));
        }
        let token = {
            let f: js_sys::Function = get_token.expect("checked").unchecked_into();
            let access = wasm_bindgen_futures::JsFuture::from(js_sys::Promise::resolve(
                &f.call0(&credential)?,
            ))
            .await?;
            js_sys::Reflect::get(&access, &"token".into())?
                .as_string()
                .ok_or_else(|| {
                    ApiError::new(SubCode::TokenRefreshFailed, "getToken() gave no token")
                })?
        };
        let claims = rtcall_protocol::token::decode_unverified(&token)
            .map_err(|e| ApiError::new(SubCode::MalformedToken, e.to_string()))?;
        let service_url = self.shared.service_url.clone().unwrap_or(claims.iss);
        {
            let mut agents = self.shared.agents.borrow_mut();
            if agents.contains(&claims.sub) {
                return Err(ApiError::new(
                    SubCode::AgentExists,
                    "a call agent for this identity exists already in this CallClient",
                ));
            }
            agents.push(claims.sub.clone());
        }
        let created = AgentInner::create(
            Rc::clone(&self.shared),
            credential,
            claims.sub.clone(),
            display_name,
            service_url,
        )
        .await;
        if created.is_err() {
            self.shared.forget_agent(&claims.sub);
        }
        created
    }
}

#[wasm_bindgen]
impl CallClient {
    /// `new CallClient(options?)`. Options the library does not use (`logger`, `diagnostics`)
    /// are accepted and ignored; malformed ones are refused. `serviceUrl` (rtcall's own)
    /// overrides the token's issuer as the service to connect to.
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
        let ice_servers: Vec<IceServer> = options
            .network_configuration
            .turn
            .map(|turn| turn.ice_servers)
            .unwrap_or_default()
            .into_iter()
            .map(|s| IceServer {
                urls: s.urls,
                username: s.username,
                credential: s.credential,
            })
            .collect();
        if ice_servers.iter().any(|s| s.urls.is_empty()) {
            return Err(ApiError::invalid_argument("an ICE server has no urls"));
        }
        Ok(CallClient {
            shared: Rc::new(ClientShared {
                ice_servers,
                service_url: options.service_url,
                devices: Rc::default(),
                agents: RefCell::default(),
            }),
        })
    }

    /// Signs in: `createCallAgent(credential, {displayName})` → `CallAgent`. One agent per
    /// identity per client.
    #[wasm_bindgen(js_name = createCallAgent, unchecked_return_type = "Promise<CallAgent>")]
    pub fn js_create_call_agent(
        &self,
        #[wasm_bindgen(unchecked_param_type = "CommunicationTokenCredential")] credential: JsValue,
        #[wasm_bindgen(unchecked_param_type = "CallAgentOptions")] options: JsValue,
    ) -> js_sys::Promise {
        let this = self.clone();
        let display_name = if options.is_object() {
            js_sys::Reflect::get(&options, &"displayName".into())
                .ok()
                .and_then(|n| n.as_string())
                .unwrap_or_default()
        } else {
            String::new()
        };
        wasm_bindgen_futures::future_to_promise(async move {
            let agent = this.create_call_agent(credential, display_name).await?;
            Ok(agent.js())
        })
    }

    /// The device manager (works without an agent).
    #[wasm_bindgen(js_name = getDeviceManager, unchecked_return_type = "Promise<DeviceManager>")]
    pub fn get_device_manager(&self) -> js_sys::Promise {
        let devices = Rc::clone(&self.shared.devices);
        wasm_bindgen_futures::future_to_promise(
            async move { Ok(DeviceManager::ready(devices).await?) },
        )
    }
}
