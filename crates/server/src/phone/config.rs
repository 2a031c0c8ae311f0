//! Telephone settings: SIP trunks, the numbers the deployment owns, where their incoming calls
//! go. They come from the TOML file only (lists of tables do not fit flags):
//!
//! ```toml
//! sip_udp = "127.0.0.1:5070"       # the gateway's SIP address
//! phone_rtp_udp = "127.0.0.1:5072" # where phones' audio arrives: the first of
//! phone_rtp_ports = 100            # ports, one per phone call (port 0: any free ones)
//!
//! [[trunks]]
//! name = "carrier"
//! address = "127.0.0.1:5060"       # the trunk's SIP address
//! transport = "udp"                # or "tcp" (then the gateway also listens on sip_udp's port)
//! username = "rtcall"              # digest credentials, if the trunk asks
//! password = "secret"
//! numbers = ["+14255550100"]       # E.164 numbers of this deployment on this trunk
//! allow = ["127.0.0.1"]            # who may send SIP (default: the trunk's own address)
//!
//! [[trunks.routes]]                # calls to one of the numbers...
//! number = "+14255550100"
//! user = "8:acs:..."               # ...ring this user, or
//! # group = "support"              # ...join this group call
//! ```

use crate::contract::PhoneTarget;
use rtcall_protocol::is_e164;
use rtcall_sip::call::{Credentials, Transport};
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// One trunk as the TOML file writes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkFile {
    name: String,
    address: SocketAddr,
    #[serde(default = "udp")]
    transport: String,
    username: Option<String>,
    password: Option<String>,
    #[serde(default)]
    numbers: Vec<String>,
    #[serde(default)]
    allow: Vec<IpAddr>,
    #[serde(default)]
    routes: Vec<RouteFile>,
}

/// Where calls to one number go, as the file writes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteFile {
    number: String,
    user: Option<String>,
    group: Option<String>,
}

fn udp() -> String {
    "udp".into()
}

/// A validated trunk.
#[derive(Debug, Clone)]
pub struct Trunk {
    /// For logs.
    pub name: String,
    /// Its SIP address.
    pub address: SocketAddr,
    /// UDP or TCP.
    pub transport: Transport,
    /// Digest credentials, if any.
    pub credentials: Option<Credentials>,
    /// Numbers of the deployment reached through it (E.164).
    pub numbers: Vec<String>,
    /// Source addresses allowed to send SIP.
    pub allow: Vec<IpAddr>,
    /// Where calls to its numbers go.
    pub routes: Vec<(String, PhoneTarget)>,
}

impl Trunk {
    /// Whether `number` belongs to this trunk.
    pub fn owns(&self, number: &str) -> bool {
        self.numbers.iter().any(|n| n == number)
    }

    /// Where calls to `number` go.
    pub fn route(&self, number: &str) -> Option<&PhoneTarget> {
        self.routes
            .iter()
            .find(|(n, _)| n == number)
            .map(|(_, t)| t)
    }
}

/// The telephone gateway's settings.
#[derive(Debug, Clone)]
pub struct PhoneConfig {
    /// The gateway's SIP UDP address.
    pub sip_udp: SocketAddr,
    /// The first of the gateway's RTP UDP addresses (port 0: any free ones).
    pub rtp_udp: SocketAddr,
    /// How many RTP ports: one per phone call, so at most this many at once.
    pub rtp_ports: u16,
    /// How long a phone may ring unanswered.
    pub ring_timeout: Duration,
    /// The trunks.
    pub trunks: Vec<Trunk>,
}

/// Checks trunks from the file.
pub fn validate(
    (sip_udp, rtp_udp, rtp_ports): (SocketAddr, SocketAddr, u16),
    ring_timeout: Duration,
    trunks: Vec<TrunkFile>,
) -> Result<PhoneConfig, String> {
    if rtp_ports == 0 || u32::from(rtp_udp.port()) + u32::from(rtp_ports) > 65_536 {
        return Err(format!(
            "phone_rtp_ports {rtp_ports} from port {} does not fit the port range",
            rtp_udp.port()
        ));
    }
    let trunks = trunks
        .into_iter()
        .map(|t| {
            let transport = match t.transport.as_str() {
                "udp" => Transport::Udp,
                "tcp" => Transport::Tcp,
                other => {
                    return Err(format!(
                        "trunk {}: transport {other} is not supported (udp or tcp)",
                        t.name
                    ))
                }
            };
            if let Some(bad) = t.numbers.iter().find(|n| !is_e164(n)) {
                return Err(format!(
                    "trunk {}: {bad} is not an E.164 number (+ and 8 to 15 digits)",
                    t.name
                ));
            }
            let credentials = match (t.username, t.password) {
                (Some(username), Some(password)) => Some(Credentials { username, password }),
                (None, None) => None,
                _ => {
                    return Err(format!(
                        "trunk {}: username and password go together",
                        t.name
                    ))
                }
            };
            let routes = t
                .routes
                .into_iter()
                .map(|r| {
                    if !t.numbers.contains(&r.number) {
                        return Err(format!(
                            "trunk {}: route for {}, which is not one of its numbers",
                            t.name, r.number
                        ));
                    }
                    let target = match (r.user, r.group) {
                        (Some(user), None) => PhoneTarget::User(user),
                        (None, Some(group)) => PhoneTarget::Group(group),
                        _ => {
                            return Err(format!(
                                "trunk {}: route for {} needs a user or a group",
                                t.name, r.number
                            ))
                        }
                    };
                    Ok((r.number, target))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Trunk {
                transport,
                routes,
                allow: if t.allow.is_empty() {
                    vec![t.address.ip()]
                } else {
                    t.allow
                },
                name: t.name,
                address: t.address,
                credentials,
                numbers: t.numbers,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PhoneConfig {
        sip_udp,
        rtp_udp,
        rtp_ports,
        ring_timeout,
        trunks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trunk(toml: &str) -> Result<PhoneConfig, String> {
        let file: TrunkFile = toml::from_str(toml).map_err(|e| e.to_string())?;
        validate(
            (
                "127.0.0.1:5070".parse().unwrap(),
                "127.0.0.1:5072".parse().unwrap(),
                4,
            ),
            Duration::from_secs(60),
            vec![file],
        )
    }

    #[test]
    fn trunks_are_checked_and_default_to_allowing_their_own_address() {
        let config =
            trunk("name = \"t\"\naddress = \"10.0.0.1:5060\"\nnumbers = [\"+14255550100\"]")
                .unwrap();
        assert_eq!(
            config.trunks[0].allow,
            ["10.0.0.1".parse::<IpAddr>().unwrap()]
        );
        assert!(config.trunks[0].owns("+14255550100"));
        assert!(!config.trunks[0].owns("+14255550101"));
        let bad_number =
            trunk("name = \"t\"\naddress = \"10.0.0.1:5060\"\nnumbers = [\"555-0100\"]");
        assert!(bad_number.unwrap_err().contains("555-0100"));
        let tcp = trunk("name = \"t\"\naddress = \"10.0.0.1:5060\"\ntransport = \"tcp\"").unwrap();
        assert_eq!(tcp.trunks[0].transport, Transport::Tcp);
        let tls = trunk("name = \"t\"\naddress = \"10.0.0.1:5060\"\ntransport = \"tls\"");
        assert!(tls.unwrap_err().contains("udp or tcp"));
        let half = trunk("name = \"t\"\naddress = \"10.0.0.1:5060\"\nusername = \"u\"");
        assert!(half.unwrap_err().contains("go together"));
        let routed = trunk("name = \"t\"\naddress = \"10.0.0.1:5060\"\nnumbers = [\"+14255550100\"]\n[[routes]]\nnumber = \"+14255550100\"\ngroup = \"support\"").unwrap();
        assert_eq!(
            routed.trunks[0].route("+14255550100"),
            Some(&PhoneTarget::Group("support".into()))
        );
        let foreign = trunk("name = \"t\"\naddress = \"10.0.0.1:5060\"\n[[routes]]\nnumber = \"+14255550100\"\nuser = \"8:acs:x\"");
        assert!(foreign.unwrap_err().contains("not one of its numbers"));
        let both = trunk("name = \"t\"\naddress = \"10.0.0.1:5060\"\nnumbers = [\"+14255550100\"]\n[[routes]]\nnumber = \"+14255550100\"\nuser = \"8:acs:x\"\ngroup = \"g\"");
        assert!(both.unwrap_err().contains("a user or a group"));
        let secret = trunk(
            "name = \"t\"\naddress = \"10.0.0.1:5060\"\nusername = \"u\"\npassword = \"hunter2\"",
        )
        .unwrap();
        assert!(
            !format!("{secret:?}").contains("hunter2"),
            "no password in debug output"
        );
    }
}
