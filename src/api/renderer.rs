//! `VideoStreamRenderer` and its views: a `<video>` inside a `<div>` the app appends
//! (`view.target`). A remote stream is subscribed while it has a view and unsubscribed after
//! the last one goes; a local stream's camera is open while it has a view or a call.

use super::error::{ApiError, SubCode};
use super::object::JsSelf;
use super::streams::{LocalVideoStream, RemoteVideoStream, TrackView};
use crate::api::promise::promise;
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// How long `createView` waits for a remote stream's first track.
const VIEW_TIMEOUT_MS: u32 = 10_000;

/// What a renderer shows.
#[derive(Clone)]
pub(crate) enum ViewSource {
    Local(LocalVideoStream),
    Remote(RemoteVideoStream),
}

fn object_fit(mode: &str) -> Option<&'static str> {
    match mode {
        "Stretch" => Some("fill"),
        "Crop" => Some("cover"),
        "Fit" => Some("contain"),
        _ => None,
    }
}

/// The `unmute` and `mute` handlers of a remote track being shown.
type TrackEvents = (Closure<dyn FnMut()>, Closure<dyn FnMut()>);

/// A view's state.
pub struct ViewInner {
    target: web_sys::HtmlElement,
    video: web_sys::HtmlVideoElement,
    scaling: RefCell<String>,
    mirrored: bool,
    source: ViewSource,
    disposed: Cell<bool>,
    renderer: Weak<RendererInner>,
    _on_resize: Closure<dyn FnMut()>,
    track_events: RefCell<Option<TrackEvents>>,
    js: JsSelf,
}

impl TrackView for ViewInner {
    fn show(&self, track: Option<&web_sys::MediaStreamTrack>) {
        let stream =
            track.and_then(|t| web_sys::MediaStream::new_with_tracks(&js_sys::Array::of1(t)).ok());
        self.video.set_src_object(stream.as_ref());
        if let (Some(track), ViewSource::Remote(remote)) = (track, &self.source) {
            // `isReceiving` follows the track's mute state (no frames arriving).
            let (on, off) = (remote.clone(), remote.clone());
            let unmute = Closure::<dyn FnMut()>::new(move || on.set_receiving(true));
            let mute = Closure::<dyn FnMut()>::new(move || off.set_receiving(false));
            track.set_onunmute(Some(unmute.as_ref().unchecked_ref()));
            track.set_onmute(Some(mute.as_ref().unchecked_ref()));
            *self.track_events.borrow_mut() = Some((unmute, mute));
        }
        if stream.is_some() {
            if let Ok(playing) = self.video.play() {
                crate::media::settle(playing);
            }
        }
    }

    /// Removes the view; the last view of a remote stream unsubscribes it.
    fn dispose(&self) {
        if self.disposed.replace(true) {
            return;
        }
        self.video.set_src_object(None);
        self.target.remove();
        match &self.source {
            ViewSource::Local(local) => {
                local.remove_view(self);
                local.release();
            }
            ViewSource::Remote(remote) => remote.remove_view(self),
        }
        if let Some(renderer) = self.renderer.upgrade() {
            renderer
                .views
                .borrow_mut()
                .retain(|v| !std::ptr::eq(&**v, self));
        }
        self.js.release();
    }
}

/// A view of a stream (`VideoStreamRendererView`).
#[wasm_bindgen]
#[derive(Clone)]
pub struct VideoStreamRendererView {
    inner: Rc<ViewInner>,
}

#[wasm_bindgen]
impl VideoStreamRendererView {
    /// The element to append to the page.
    #[wasm_bindgen(getter)]
    pub fn target(&self) -> web_sys::HtmlElement {
        self.inner.target.clone()
    }

    /// `'Stretch'`, `'Crop'` or `'Fit'`.
    #[wasm_bindgen(getter, js_name = scalingMode, unchecked_return_type = "ScalingMode")]
    pub fn scaling_mode(&self) -> String {
        self.inner.scaling.borrow().clone()
    }

    /// Shown mirrored.
    #[wasm_bindgen(getter, js_name = isMirrored)]
    pub fn is_mirrored(&self) -> bool {
        self.inner.mirrored
    }

    /// Changes the scaling mode.
    #[wasm_bindgen(js_name = updateScalingMode, unchecked_return_type = "Promise<void>")]
    pub fn update_scaling_mode(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ScalingMode")] mode: String,
    ) -> js_sys::Promise {
        let result = match object_fit(&mode) {
            Some(fit) => {
                let _ = self.inner.video.style().set_property("object-fit", fit);
                *self.inner.scaling.borrow_mut() = mode;
                Ok(JsValue::UNDEFINED)
            }
            None => Err(ApiError::invalid_argument(
                "scalingMode must be 'Stretch', 'Crop' or 'Fit'",
            )
            .into()),
        };
        match result {
            Ok(v) => js_sys::Promise::resolve(&v),
            Err(e) => js_sys::Promise::reject(&e),
        }
    }

    /// Removes the view.
    pub fn dispose(&self) {
        self.inner.dispose();
    }
}

/// A renderer's state.
pub struct RendererInner {
    source: ViewSource,
    views: RefCell<Vec<Rc<ViewInner>>>,
}

/// Renders a local or remote video stream (`VideoStreamRenderer`).
#[wasm_bindgen]
#[derive(Clone)]
pub struct VideoStreamRenderer {
    inner: Rc<RendererInner>,
}

impl VideoStreamRenderer {
    async fn create_view(
        &self,
        scaling: Option<String>,
        mirrored: bool,
    ) -> Result<VideoStreamRendererView, ApiError> {
        let track = match &self.inner.source {
            ViewSource::Local(local) => local.acquire().await?,
            ViewSource::Remote(remote) => {
                if !remote.available() {
                    return Err(ApiError::new(
                        SubCode::StreamUnavailable,
                        "the remote stream is not available",
                    ));
                }
                if !remote.has_views() && remote.track().is_none() {
                    remote.subscribe(Some(720));
                }
                let timeout = gloo_timers::future::TimeoutFuture::new(VIEW_TIMEOUT_MS);
                let arrived = race_timeout(remote.wait_track(), timeout).await;
                match arrived {
                    Some(track) => track,
                    None => {
                        if !remote.has_views() {
                            remote.subscribe(None);
                        }
                        return Err(ApiError::new(
                            SubCode::ViewTimeout,
                            "the remote video did not arrive in time",
                        ));
                    }
                }
            }
        };
        // Shared screens show whole (text must not be cropped or distorted); cameras fill.
        let media_type = match &self.inner.source {
            ViewSource::Remote(remote) => remote.media_stream_type(),
            ViewSource::Local(local) => local.media_stream_type(),
        };
        let default_scaling = if media_type == "ScreenSharing" {
            "Fit"
        } else {
            "Stretch"
        };
        let scaling = scaling.unwrap_or_else(|| default_scaling.to_owned());
        let fit = object_fit(&scaling).ok_or_else(|| {
            ApiError::invalid_argument("scalingMode must be 'Stretch', 'Crop' or 'Fit'")
        })?;
        let document = web_sys::window()
            .and_then(|w| w.document())
            .ok_or_else(|| ApiError::invalid_argument("no document to render into"))?;
        let target: web_sys::HtmlElement = document.create_element("div")?.unchecked_into();
        let video: web_sys::HtmlVideoElement = document.create_element("video")?.unchecked_into();
        target
            .style()
            .set_css_text("position:relative;width:100%;height:100%;overflow:hidden;");
        let style = video.style();
        style.set_css_text("width:100%;height:100%;display:block;");
        let _ = style.set_property("object-fit", fit);
        if mirrored {
            let _ = style.set_property("transform", "scaleX(-1)");
        }
        video.set_autoplay(true);
        video.set_muted(true);
        let _ = video.set_attribute("playsinline", "");
        target.append_child(&video)?;
        let on_resize = {
            let video = video.clone();
            let remote = match &self.inner.source {
                ViewSource::Remote(r) => Some(r.clone()),
                ViewSource::Local(_) => None,
            };
            Closure::<dyn FnMut()>::new(move || {
                if let Some(remote) = &remote {
                    remote.set_size(video.video_width(), video.video_height());
                }
            })
        };
        video.add_event_listener_with_callback("resize", on_resize.as_ref().unchecked_ref())?;
        let view = Rc::new(ViewInner {
            target,
            video,
            scaling: RefCell::new(scaling),
            mirrored,
            source: self.inner.source.clone(),
            disposed: Cell::new(false),
            renderer: Rc::downgrade(&self.inner),
            _on_resize: on_resize,
            track_events: RefCell::new(None),
            js: JsSelf::default(),
        });
        view.show(Some(&track));
        let weak: Weak<dyn TrackView> = Rc::downgrade(&view) as Weak<ViewInner>;
        match &self.inner.source {
            ViewSource::Local(local) => local.add_view(weak),
            ViewSource::Remote(remote) => remote.add_view(weak),
        }
        self.inner.views.borrow_mut().push(Rc::clone(&view));
        Ok(VideoStreamRendererView { inner: view })
    }
}

/// Resolves with the first of `track` and `timeout` (`None` on timeout).
async fn race_timeout(
    track: impl std::future::Future<Output = Option<web_sys::MediaStreamTrack>>,
    timeout: gloo_timers::future::TimeoutFuture,
) -> Option<web_sys::MediaStreamTrack> {
    let track = std::pin::pin!(track);
    let timeout = std::pin::pin!(timeout);
    Race {
        a: track,
        b: timeout,
    }
    .await
}

struct Race<'a, A, B> {
    a: std::pin::Pin<&'a mut A>,
    b: std::pin::Pin<&'a mut B>,
}

impl<A, B> std::future::Future for Race<'_, A, B>
where
    A: std::future::Future<Output = Option<web_sys::MediaStreamTrack>>,
    B: std::future::Future<Output = ()>,
{
    type Output = Option<web_sys::MediaStreamTrack>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        if let std::task::Poll::Ready(track) = self.a.as_mut().poll(cx) {
            return std::task::Poll::Ready(track);
        }
        if self.b.as_mut().poll(cx).is_ready() {
            return std::task::Poll::Ready(None);
        }
        std::task::Poll::Pending
    }
}

#[wasm_bindgen]
impl VideoStreamRenderer {
    /// `new VideoStreamRenderer(localVideoStream | remoteVideoStream)`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "LocalVideoStream | RemoteVideoStream")]
        stream: JsValue,
    ) -> Result<VideoStreamRenderer, ApiError> {
        let source = if let Some(local) = LocalVideoStream::from_js(&stream) {
            ViewSource::Local(local)
        } else if let Some(remote) = RemoteVideoStream::from_js(&stream) {
            ViewSource::Remote(remote)
        } else {
            return Err(ApiError::invalid_argument(
                "VideoStreamRenderer needs a LocalVideoStream or a RemoteVideoStream",
            ));
        };
        Ok(VideoStreamRenderer {
            inner: Rc::new(RendererInner {
                source,
                views: RefCell::default(),
            }),
        })
    }

    /// Creates a view: `{scalingMode?, isMirrored?}`. For a remote stream it resolves once the
    /// video arrives, and rejects if the stream is not available or nothing arrives in time.
    #[wasm_bindgen(js_name = createView, unchecked_return_type = "Promise<VideoStreamRendererView>")]
    pub fn js_create_view(
        &self,
        #[wasm_bindgen(unchecked_param_type = "CreateViewOptions")] options: JsValue,
    ) -> js_sys::Promise {
        let this = self.clone();
        let get = |name: &str| {
            if options.is_object() {
                js_sys::Reflect::get(&options, &name.into()).unwrap_or(JsValue::UNDEFINED)
            } else {
                JsValue::UNDEFINED
            }
        };
        let scaling = get("scalingMode").as_string();
        let mirrored = get("isMirrored").is_truthy();
        promise(async move {
            let view = this.create_view(scaling, mirrored).await?;
            Ok(view.inner.js.get(|| view.clone().into()))
        })
    }

    /// Disposes every view.
    pub fn dispose(&self) {
        let views: Vec<_> = self.inner.views.borrow().clone();
        for view in views {
            view.dispose();
        }
    }
}
