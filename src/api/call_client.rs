//! `CallClient`: the library's entry object. It holds what every call made through it shares
//! (TURN servers, the service URL, the devices) and creates call agents (one per identity) and
//! the device manager; its one feature is `DebugInfo` (the browser check).

use super::call_agent::{AgentInner, AgentSetup, CallAgent};
use super::device_manager::{DeviceManager, DeviceState};
use super::environment::DebugInfoFeature;
use super::error::{ApiError, SubCode};
use super::features::factory_name;
use crate::api::promise::promise;
use rtcall_protocol::signal::IceServer;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

fn get(object: &JsValue, name: &str) -> JsValue {
    if object.is_object() {
        js_sys::Reflect::get(object, &name.into()).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

fn optional_string(value: JsValue, what: &str) -> Result<Option<String>, ApiError> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    value.as_string().map(Some).ok_or_else(|| {
        ApiError::invalid_argument(format!(
            "invalid CallClientOptions: {what} must be a string"
        ))
    })
}

/// `networkConfiguration.turn.iceServers`: `{urls: string | string[], username?, credential?}`.
fn ice_servers_option(options: &JsValue) -> Result<Vec<IceServer>, ApiError> {
    let servers = get(
        &get(&get(options, "networkConfiguration"), "turn"),
        "iceServers",
    );
    if servers.is_undefined() {
        return Ok(Vec::new());
    }
    if !js_sys::Array::is_array(&servers) {
        return Err(ApiError::invalid_argument(
            "invalid CallClientOptions: iceServers must be an array",
        ));
    }
    js_sys::Array::from(&servers)
        .iter()
        .map(|server| {
            let urls = get(&server, "urls");
            let urls: Vec<String> = if let Some(url) = urls.as_string() {
                vec![url]
            } else if js_sys::Array::is_array(&urls) {
                js_sys::Array::from(&urls)
                    .iter()
                    .filter_map(|u| u.as_string())
                    .collect()
            } else {
                Vec::new()
            };
            if urls.is_empty() {
                return Err(ApiError::invalid_argument(
                    "invalid CallClientOptions: an ICE server has no urls",
                ));
            }
            Ok(IceServer {
                urls,
                username: optional_string(get(&server, "username"), "username")?,
                credential: optional_string(get(&server, "credential"), "credential")?,
            })
        })
        .collect()
}

/// What a client's agents and calls share.
struct ClientShared {
    ice_servers: Vec<IceServer>,
    service_url: Option<String>,
    devices: Rc<DeviceState>,
    /// Identities with an agent (or one being created).
    agents: RefCell<Vec<String>>,
}

impl ClientShared {
    /// An agent went away: its identity may have a new one.
    fn forget_agent(&self, identity: &str) {
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
        let info = super::credential::token_info(&token)?;
        let identity = info.identity.ok_or_else(|| {
            ApiError::new(
                SubCode::MalformedToken,
                "the access token names no identity (sub)",
            )
        })?;
        let service_url = self
            .shared
            .service_url
            .clone()
            .or(info.issuer)
            .ok_or_else(|| {
                ApiError::invalid_argument(
                    "the token names no service (iss); pass serviceUrl to new CallClient()",
                )
            })?;
        {
            let mut agents = self.shared.agents.borrow_mut();
            if agents.contains(&identity) {
                return Err(ApiError::new(
                    SubCode::AgentExists,
                    "a call agent for this identity exists already in this CallClient",
                ));
            }
            agents.push(identity.clone());
        }
        let shared = Rc::downgrade(&self.shared);
        let leaving = identity.clone();
        let setup = AgentSetup {
            ice_servers: self.shared.ice_servers.clone(),
            devices: Rc::clone(&self.shared.devices),
            on_dispose: Box::new(move || {
                if let Some(shared) = shared.upgrade() {
                    shared.forget_agent(&leaving);
                }
            }),
        };
        let created = AgentInner::create(
            setup,
            credential,
            identity.clone(),
            display_name,
            service_url,
        )
        .await;
        if created.is_err() {
            self.shared.forget_agent(&identity);
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
        if !(options.is_undefined() || options.is_null() || options.is_object()) {
            return Err(ApiError::invalid_argument(
                "CallClientOptions must be an object",
            ));
        }
        let ice_servers = ice_servers_option(&options)?;
        let service_url = optional_string(get(&options, "serviceUrl"), "serviceUrl")?;
        Ok(CallClient {
            shared: Rc::new(ClientShared {
                ice_servers,
                service_url,
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
        promise(async move {
            let agent = this.create_call_agent(credential, display_name).await?;
            Ok(agent.js())
        })
    }

    /// `callClient.feature(Features.DebugInfo)`: the environment check apps run before a call.
    #[wasm_bindgen(unchecked_return_type = "DebugInfoFeature")]
    pub fn feature(&self, factory: JsValue) -> Result<DebugInfoFeature, ApiError> {
        match factory_name(&factory).as_str() {
            "DebugInfo" => Ok(DebugInfoFeature),
            other => Err(ApiError::new(
                SubCode::NotSupported,
                format!("the call client feature '{other}' is not supported"),
            )),
        }
    }

    /// The device manager (works without an agent).
    #[wasm_bindgen(js_name = getDeviceManager, unchecked_return_type = "Promise<DeviceManager>")]
    pub fn get_device_manager(&self) -> js_sys::Promise {
        let devices = Rc::clone(&self.shared.devices);
        promise(async move { DeviceManager::ready(devices).await })
    }
}
