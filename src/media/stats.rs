//! A peer connection's statistics (`getStats()`), as the reports' plain JS objects, with
//! typed reads of their fields.

use wasm_bindgen::JsCast;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

/// One statistics report (`RTCStats`).
pub struct Report(JsValue);

impl Report {
    /// A field, if present.
    fn field(&self, name: &str) -> Option<JsValue> {
        js_sys::Reflect::get(&self.0, &name.into())
            .ok()
            .filter(|v| !v.is_undefined())
    }

    /// A string field.
    pub fn text(&self, name: &str) -> Option<String> {
        self.field(name)?.as_string()
    }

    /// A number field.
    pub fn number(&self, name: &str) -> Option<f64> {
        self.field(name)?.as_f64()
    }

    /// Whether it is of `type` and, if given, of `kind`.
    pub fn is(&self, kind_of_report: &str, media: Option<&str>) -> bool {
        self.text("type").as_deref() == Some(kind_of_report)
            && media.is_none_or(|m| self.text("kind").as_deref() == Some(m))
    }
}

/// Every report of `pc`'s statistics now (none if the connection cannot give them).
pub async fn reports(pc: &web_sys::RtcPeerConnection) -> Vec<Report> {
    let Ok(stats) = JsFuture::from(pc.get_stats()).await else {
        return Vec::new();
    };
    let values = js_sys::Reflect::get(&stats, &"values".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .and_then(|f| f.call0(&stats).ok());
    values
        .and_then(|v| js_sys::try_iter(&v).ok().flatten())
        .map(|reports| reports.flatten().map(Report).collect())
        .unwrap_or_default()
}
