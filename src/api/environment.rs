//! What browser this is and whether it can call: `callClient.feature(Features.DebugInfo)
//! .getEnvironmentInfo()` (ACS's answer for apps that warn users before a call), and the check
//! that refuses a call with a typed error where the browser has no WebRTC, instead of failing
//! deep inside later.
//!
//! The browser and platform are read from the user agent; whether the version is supported is
//! answered from what the browser has (feature detection), so a new version or an engine we
//! never ran is judged by what it can do, not by a list.

use super::error::{ApiError, SubCode};
use super::events::object;
use wasm_bindgen::prelude::*;

/// A browser and platform as read from a user agent string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    /// `Windows`, `macOS`, `iOS`, `Android`, `Linux`, `ChromeOS` or `Unknown`.
    pub platform: &'static str,
    /// `Chrome`, `Edge`, `Firefox`, `Safari`, `Opera`, `Samsung Internet` or `Unknown`.
    pub browser: &'static str,
    /// The browser's version (`"140.0"`), empty if unknown.
    pub version: String,
}

/// The version after `name` (a `Product/` token) in `agent`, up to the next space, `;` or `)`.
fn version_after<'a>(agent: &'a str, name: &str) -> Option<&'a str> {
    let start = agent.find(name)? + name.len();
    Some(agent[start..].split([' ', ';', ')']).next().unwrap_or(""))
}

impl Environment {
    /// Reads `agent` (`navigator.userAgent`). `touch` (more than one touch point) tells an
    /// iPad, whose Safari says it is a Mac, from a Mac.
    pub fn parse(agent: &str, touch: bool) -> Environment {
        let platform =
            if agent.contains("iPhone") || agent.contains("iPad") || agent.contains("iPod") {
                "iOS"
            } else if agent.contains("Android") {
                "Android"
            } else if agent.contains("Windows") {
                "Windows"
            } else if agent.contains("CrOS") {
                "ChromeOS"
            } else if agent.contains("Macintosh") || agent.contains("Mac OS X") {
                if touch {
                    "iOS"
                } else {
                    "macOS"
                }
            } else if agent.contains("Linux") || agent.contains("X11") {
                "Linux"
            } else {
                "Unknown"
            };
        // Most specific first: Edge and Opera say Chrome too, Chrome says Safari, and on iOS
        // every browser is WebKit under its own name.
        let known = [
            ("Edg/", "Edge"),
            ("EdgiOS/", "Edge"),
            ("OPR/", "Opera"),
            ("SamsungBrowser/", "Samsung Internet"),
            ("Firefox/", "Firefox"),
            ("FxiOS/", "Firefox"),
            ("CriOS/", "Chrome"),
            ("Chrome/", "Chrome"),
            ("Version/", "Safari"),
        ];
        let (browser, version) = known
            .iter()
            .find_map(|(token, name)| Some((*name, version_after(agent, token)?)))
            .filter(|(name, _)| *name != "Safari" || agent.contains("Safari/"))
            .unwrap_or(("Unknown", ""));
        Environment {
            platform,
            browser,
            version: version.to_owned(),
        }
    }

    /// The version's first two numbers (0 where missing).
    fn major_minor(&self) -> (u32, u32) {
        let mut parts = self.version.split('.').map(|p| p.parse().unwrap_or(0));
        (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
    }

    /// Whether rtcall supports this browser on this platform (Safari only where Apple ships
    /// it; WebKitGTK and other WebKit browsers on Linux say "Safari" too).
    pub fn supported_browser(&self) -> bool {
        match self.browser {
            "Chrome" | "Edge" | "Firefox" | "Opera" | "Samsung Internet" => true,
            "Safari" => matches!(self.platform, "macOS" | "iOS"),
            _ => false,
        }
    }

    /// Whether the platform is one rtcall supports.
    pub fn supported_platform(&self) -> bool {
        self.platform != "Unknown"
    }

    /// Whether the version is recent enough, given whether the browser has what a call needs:
    /// Safari from 13.1 (unified-plan transceivers), any other from the features alone.
    pub fn supported_version(&self, can_call: bool) -> bool {
        let version = self.major_minor();
        can_call && version.0 > 0 && (self.browser != "Safari" || version >= (13, 1))
    }
}

/// What this browser lacks for a call, if anything: peer connections with transceivers, and
/// capture devices (which need a secure context: https or localhost).
pub fn missing_for_calls() -> Option<&'static str> {
    let global = js_sys::global();
    let has = |target: &JsValue, name: &str| {
        js_sys::Reflect::get(target, &name.into()).is_ok_and(|v| !v.is_undefined() && !v.is_null())
    };
    if !has(&global, "RTCPeerConnection") {
        return Some("WebRTC (RTCPeerConnection)");
    }
    if !has(&global, "RTCRtpTransceiver") {
        return Some("RTCRtpTransceiver (unified plan)");
    }
    let media_devices = js_sys::Reflect::get(&global, &"navigator".into())
        .and_then(|n| js_sys::Reflect::get(&n, &"mediaDevices".into()))
        .unwrap_or(JsValue::UNDEFINED);
    if !has(&media_devices, "getUserMedia") {
        return Some("navigator.mediaDevices (a secure context: https or localhost)");
    }
    None
}

/// Refuses a call where the browser cannot make one.
pub fn require_calls() -> Result<(), ApiError> {
    match missing_for_calls() {
        Some(missing) => Err(ApiError::new(
            SubCode::NotSupported,
            format!("this browser cannot make calls: it has no {missing}"),
        )),
        None => Ok(()),
    }
}

/// `callClient.feature(Features.DebugInfo)`.
#[wasm_bindgen]
#[derive(Clone, Copy)]
pub struct DebugInfoFeature;

#[wasm_bindgen]
impl DebugInfoFeature {
    /// `'DebugInfo'`.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        "DebugInfo".into()
    }

    /// `{environment: {platform, browser, browserVersion}, isSupportedPlatform,
    /// isSupportedBrowser, isSupportedBrowserVersion, isSupportedEnvironment}`.
    #[wasm_bindgen(js_name = getEnvironmentInfo, unchecked_return_type = "Promise<EnvironmentInfo>")]
    pub fn get_environment_info(&self) -> js_sys::Promise {
        let navigator = js_sys::Reflect::get(&js_sys::global(), &"navigator".into())
            .unwrap_or(JsValue::UNDEFINED);
        let read = |name: &str| js_sys::Reflect::get(&navigator, &name.into()).ok();
        let agent = read("userAgent")
            .and_then(|a| a.as_string())
            .unwrap_or_default();
        let touch = read("maxTouchPoints")
            .and_then(|t| t.as_f64())
            .is_some_and(|t| t > 1.0);
        let env = Environment::parse(&agent, touch);
        let (platform, browser, version) = (
            env.supported_platform(),
            env.supported_browser(),
            env.supported_version(missing_for_calls().is_none()),
        );
        let info = object(&[
            (
                "environment",
                object(&[
                    ("platform", env.platform.into()),
                    ("browser", env.browser.into()),
                    ("browserVersion", env.version.as_str().into()),
                ]),
            ),
            ("isSupportedPlatform", platform.into()),
            ("isSupportedBrowser", browser.into()),
            ("isSupportedBrowserVersion", version.into()),
            (
                "isSupportedEnvironment",
                (platform && browser && version).into(),
            ),
        ]);
        js_sys::Promise::resolve(&info)
    }
}

#[cfg(test)]
mod tests {
    use super::Environment;

    fn env(agent: &str) -> Environment {
        Environment::parse(agent, false)
    }

    #[test]
    fn reads_the_browsers_rtcall_is_run_in() {
        let chromium = env("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36");
        assert_eq!(
            (
                chromium.platform,
                chromium.browser,
                chromium.version.as_str()
            ),
            ("Linux", "Chrome", "156.0.0.0")
        );
        let firefox = env("Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0");
        assert_eq!(
            (firefox.platform, firefox.browser, firefox.version.as_str()),
            ("Linux", "Firefox", "140.0")
        );
        let edge = env("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86");
        assert_eq!(
            (edge.platform, edge.browser, edge.version.as_str()),
            ("Windows", "Edge", "131.0.2903.86")
        );
        let safari = env("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1 Safari/605.1.15");
        assert_eq!(
            (safari.platform, safari.browser, safari.version.as_str()),
            ("macOS", "Safari", "13.1")
        );
        let ios_chrome = env("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1");
        assert_eq!((ios_chrome.platform, ios_chrome.browser), ("iOS", "Chrome"));
        let android = env("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36");
        assert_eq!((android.platform, android.browser), ("Android", "Chrome"));
    }

    #[test]
    fn an_ipad_is_told_from_a_mac_by_touch() {
        let agent = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15";
        assert_eq!(Environment::parse(agent, true).platform, "iOS");
        assert_eq!(Environment::parse(agent, false).platform, "macOS");
    }

    #[test]
    fn safari_is_supported_from_13_1_on_apple_platforms_only() {
        let safari = |version: &str| {
            env(&format!("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{version} Safari/605.1.15"))
        };
        assert!(!safari("13.0").supported_version(true));
        assert!(safari("13.1").supported_version(true));
        assert!(safari("18.2").supported_version(true));
        // WebKitGTK on Linux says Safari; rtcall does not claim it.
        let webkitgtk = env("Mozilla/5.0 (X11; Ubuntu; Linux x86_64) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15");
        assert_eq!(webkitgtk.browser, "Safari");
        assert!(!webkitgtk.supported_browser());
        assert!(safari("18.2").supported_browser());
    }

    #[test]
    fn a_browser_without_webrtc_has_no_supported_version() {
        let chrome = env("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36");
        assert!(chrome.supported_version(true));
        assert!(!chrome.supported_version(false));
        let unknown = env("curl/8.0");
        assert_eq!((unknown.platform, unknown.browser), ("Unknown", "Unknown"));
        assert!(!unknown.supported_browser() && !unknown.supported_platform());
    }
}
