//! Video streams: `LocalVideoStream` (a camera or an app's `MediaStream`, opened while
//! something uses it) and `RemoteVideoStream` (a participant's camera or screen share, whose
//! track arrives only while a view of it exists). A stream reaches the calls that send it
//! through their [`LocalMedia`], the views that show it as [`TrackView`]s, and the call that
//! receives a remote one as its [`Subscriber`].

use super::convert::device_id;
use super::error::{ApiError, SubCode};
use super::events::{emitter_methods, object, Emitter};
use super::local_media::LocalMedia;
use super::object::{register, stream_of, unregister, JsSelf, StreamKey};
use crate::api::promise::promise;
use crate::media::devices::{self, DeviceKind};
use crate::media::peer::{replaced, SendSource};
use rtcall_protocol::call::{StreamId, StreamKind};
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// Something showing a stream's track (a renderer's view).
pub(crate) trait TrackView {
    /// Shows `track`, or nothing.
    fn show(&self, track: Option<&web_sys::MediaStreamTrack>);
    /// The stream stopped: the view goes.
    fn dispose(&self);
    /// Whether this is `other`.
    fn is(&self, other: &dyn TrackView) -> bool {
        std::ptr::addr_eq(self, other)
    }
}

/// Who receives a remote stream: the call, which subscribes it at a rendered height while a
/// view of it exists, and unsubscribes it (`None`) after the last one.
pub(crate) trait Subscriber {
    /// Subscribes `stream` at `max_height`, or unsubscribes it.
    fn subscribe(&self, stream: StreamId, max_height: Option<u32>);
}

/// Where a local video comes from.
#[derive(Clone)]
pub enum LocalSource {
    /// A camera, as a `VideoDeviceInfo` (kept to hand back as `source`).
    Device {
        /// `deviceId`.
        id: String,
        /// The `VideoDeviceInfo` object.
        info: JsValue,
    },
    /// An app's own `MediaStream` (`RawMedia`).
    Stream(web_sys::MediaStream),
    /// A screen, window or tab this call shares (`ScreenSharing`), captured by the library.
    Screen(web_sys::MediaStream),
}

impl LocalSource {
    /// Whether the library opened the track, and so stops it when done (an app's own
    /// stream is the app's to stop).
    fn owns_track(&self) -> bool {
        !matches!(self, LocalSource::Stream(_))
    }
}

/// A local video's state.
pub struct LocalStreamInner {
    key: StreamKey,
    source: RefCell<LocalSource>,
    track: RefCell<Option<web_sys::MediaStreamTrack>>,
    /// Calls and views using the track; the camera closes when none do.
    users: Cell<u32>,
    calls: RefCell<Vec<Weak<LocalMedia>>>,
    views: RefCell<Vec<Weak<dyn TrackView>>>,
    emitter: Emitter,
}

impl Drop for LocalStreamInner {
    fn drop(&mut self) {
        unregister(self.key);
        if let Some(track) = self.track.borrow_mut().take() {
            if self.source.borrow().owns_track() {
                track.stop();
            }
        }
    }
}

/// A local video stream (`LocalVideoStream`).
#[wasm_bindgen]
#[derive(Clone)]
pub struct LocalVideoStream {
    pub(crate) inner: Rc<LocalStreamInner>,
}

impl LocalVideoStream {
    /// The stream an app passed in, if it is a `LocalVideoStream` of ours. Callers keep
    /// `value` itself to hand back, so the app sees its own object.
    pub fn from_js(value: &JsValue) -> Option<Self> {
        stream_of::<LocalStreamInner>(value).map(|inner| LocalVideoStream { inner })
    }

    /// Opens the track if needed and counts one more user of it.
    pub async fn acquire(&self) -> Result<web_sys::MediaStreamTrack, ApiError> {
        self.inner.users.set(self.inner.users.get() + 1);
        if let Some(track) = self.inner.track.borrow().clone() {
            return Ok(track);
        }
        let opened = self.open().await;
        match opened {
            Ok(track) => {
                // Another user may have opened it meanwhile: keep one track.
                let mut slot = self.inner.track.borrow_mut();
                if let Some(existing) = slot.clone() {
                    if self.inner.source.borrow().owns_track() {
                        track.stop();
                    }
                    return Ok(existing);
                }
                *slot = Some(Clone::clone(&track));
                Ok(track)
            }
            Err(e) => {
                self.release();
                Err(e)
            }
        }
    }

    /// One user less; the camera closes with the last.
    pub fn release(&self) {
        let users = self.inner.users.get().saturating_sub(1);
        self.inner.users.set(users);
        if users == 0 {
            if let Some(track) = self.inner.track.borrow_mut().take() {
                if self.inner.source.borrow().owns_track() {
                    track.stop();
                }
            }
        }
    }

    /// The track, if open.
    pub fn track(&self) -> Option<web_sys::MediaStreamTrack> {
        self.inner.track.borrow().clone()
    }

    /// Records a call sending this stream (so `switchSource` reaches it).
    pub(crate) fn attach_call(&self, call: &Rc<LocalMedia>) {
        self.inner.calls.borrow_mut().push(Rc::downgrade(call));
    }

    /// Forgets a call.
    pub(crate) fn detach_call(&self, call: &Rc<LocalMedia>) {
        self.inner
            .calls
            .borrow_mut()
            .retain(|c| c.upgrade().is_some_and(|c| !Rc::ptr_eq(&c, call)));
    }

    /// A view shows it from now on.
    pub(crate) fn add_view(&self, view: Weak<dyn TrackView>) {
        self.inner.views.borrow_mut().push(view);
    }

    /// A view no longer shows it.
    pub(crate) fn remove_view(&self, view: &dyn TrackView) {
        remove_view(&self.inner.views, view);
    }

    async fn open(&self) -> Result<web_sys::MediaStreamTrack, ApiError> {
        let source = self.inner.source.borrow().clone();
        match source {
            LocalSource::Device { id, .. } => devices::open_track(DeviceKind::Camera, Some(&id))
                .await
                .map_err(|e| {
                    ApiError::from_js(SubCode::DeviceFailed, "cannot open the camera", &e)
                }),
            LocalSource::Stream(stream) => devices::first_track(&stream.get_video_tracks())
                .ok_or_else(|| ApiError::invalid_argument("the MediaStream has no video track")),
            // A live share holds its track; once it ended there is nothing to reopen.
            LocalSource::Screen(_) => Err(ApiError::new(
                SubCode::StreamUnavailable,
                "the screen share has ended",
            )),
        }
    }

    /// A call's screen share, capturing `track` of `stream` (one user: the call).
    pub(crate) fn screen(stream: web_sys::MediaStream, track: web_sys::MediaStreamTrack) -> Self {
        let local = Self::with_source(LocalSource::Screen(stream));
        *local.inner.track.borrow_mut() = Some(track);
        local.inner.users.set(1);
        local
    }

    fn with_source(source: LocalSource) -> Self {
        LocalVideoStream {
            inner: Rc::new_cyclic(|weak: &Weak<LocalStreamInner>| LocalStreamInner {
                key: register(weak.clone()),
                source: RefCell::new(source),
                track: RefCell::new(None),
                users: Cell::new(0),
                calls: RefCell::default(),
                views: RefCell::default(),
                emitter: Emitter::default(),
            }),
        }
    }

    /// A screen share's source is the user's pick in the browser's picker: sharing something
    /// else is a new share.
    fn check_switchable(&self) -> Result<(), ApiError> {
        match &*self.inner.source.borrow() {
            LocalSource::Screen(_) => Err(ApiError::new(
                SubCode::WrongState,
                "a screen share's source cannot be switched; stop sharing and start again",
            )),
            _ => Ok(()),
        }
    }

    /// Ends a screen share now, whoever still uses it: the capture stops (the browser's
    /// sharing indicator goes away) and previews go blank.
    pub(crate) fn end(&self) {
        if let Some(track) = self.inner.track.borrow_mut().take() {
            track.stop();
        }
        for view in self.inner.views.borrow().iter().filter_map(Weak::upgrade) {
            view.show(None);
        }
    }

    /// Puts a new track in place of the old one everywhere it is used; returns once the calls
    /// send it.
    async fn replace_track(&self, track: Option<web_sys::MediaStreamTrack>) {
        let old = std::mem::replace(&mut *self.inner.track.borrow_mut(), track.clone());
        let calls: Vec<_> = self
            .inner
            .calls
            .borrow()
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        for call in calls {
            replaced(call.set_track(SendSource::Camera, track.clone())).await;
        }
        for view in self.inner.views.borrow().iter().filter_map(Weak::upgrade) {
            view.show(track.as_ref());
        }
        if let Some(old) = old {
            if self.inner.source.borrow().owns_track() {
                old.stop();
            }
        }
    }
}

#[wasm_bindgen]
impl LocalVideoStream {
    /// `new LocalVideoStream(videoDeviceInfo | mediaStream)`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "VideoDeviceInfo | MediaStream")] source: JsValue,
    ) -> Result<LocalVideoStream, ApiError> {
        let source = if let Some(stream) = source.dyn_ref::<web_sys::MediaStream>() {
            LocalSource::Stream(Clone::clone(stream))
        } else if let Some(id) = device_id(&source) {
            LocalSource::Device { id, info: source }
        } else {
            return Err(ApiError::invalid_argument(
                "LocalVideoStream needs a VideoDeviceInfo (from getCameras) or a MediaStream",
            ));
        };
        Ok(Self::with_source(source))
    }

    /// The camera's `VideoDeviceInfo`, or the app's `MediaStream`.
    #[wasm_bindgen(getter, unchecked_return_type = "VideoDeviceInfo | MediaStream")]
    pub fn source(&self) -> JsValue {
        match &*self.inner.source.borrow() {
            LocalSource::Device { info, .. } => info.clone(),
            LocalSource::Stream(stream) | LocalSource::Screen(stream) => {
                Clone::clone(stream).into()
            }
        }
    }

    /// `'Video'` for a camera, `'RawMedia'` for an app's `MediaStream`, `'ScreenSharing'` for
    /// a call's screen share.
    #[wasm_bindgen(getter, js_name = mediaStreamType)]
    pub fn media_stream_type(&self) -> String {
        match &*self.inner.source.borrow() {
            LocalSource::Device { .. } => "Video".into(),
            LocalSource::Stream(_) => "RawMedia".into(),
            LocalSource::Screen(_) => "ScreenSharing".into(),
        }
    }

    /// Switches to another camera; calls and previews follow without renegotiation.
    #[wasm_bindgen(js_name = switchSource, unchecked_return_type = "Promise<void>")]
    pub fn switch_source(
        &self,
        #[wasm_bindgen(unchecked_param_type = "VideoDeviceInfo")] device: JsValue,
    ) -> js_sys::Promise {
        let this = self.clone();
        promise(async move {
            this.check_switchable()?;
            let id = device_id(&device).ok_or_else(|| {
                ApiError::invalid_argument("switchSource needs a VideoDeviceInfo")
            })?;
            *this.inner.source.borrow_mut() = LocalSource::Device { id, info: device };
            if this.inner.users.get() > 0 {
                let track = this.open().await?;
                this.replace_track(Some(track)).await;
            }
            this.inner.emitter.changed("videoSourceChanged");
            Ok(JsValue::UNDEFINED)
        })
    }

    /// The stream's `MediaStream` (opening the camera if needed).
    #[wasm_bindgen(js_name = getMediaStream, unchecked_return_type = "Promise<MediaStream>")]
    pub fn get_media_stream(&self) -> js_sys::Promise {
        let this = self.clone();
        promise(async move {
            if let LocalSource::Stream(stream) | LocalSource::Screen(stream) =
                &*this.inner.source.borrow()
            {
                return Ok(JsValue::from(Clone::clone(stream)));
            }
            let track = match this.track() {
                Some(track) => track,
                None => this.open().await?,
            };
            let stream = web_sys::MediaStream::new_with_tracks(&js_sys::Array::of1(&track))?;
            Ok(JsValue::from(stream))
        })
    }

    /// Uses an app's `MediaStream` from now on.
    #[wasm_bindgen(js_name = setMediaStream, unchecked_return_type = "Promise<void>")]
    pub fn set_media_stream(&self, stream: web_sys::MediaStream) -> js_sys::Promise {
        let this = self.clone();
        promise(async move {
            this.check_switchable()?;
            *this.inner.source.borrow_mut() = LocalSource::Stream(stream);
            if this.inner.users.get() > 0 {
                let track = this.open().await?;
                this.replace_track(Some(track)).await;
            }
            this.inner.emitter.changed("videoSourceChanged");
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Finds this object again when an app passes it back (not part of the ACS API).
    #[wasm_bindgen(js_name = __rtcallKey, skip_typescript)]
    pub fn key(&self) -> u32 {
        self.inner.key
    }
}

emitter_methods!(LocalVideoStream, "LocalVideoStream");

/// A remote video's state.
pub struct RemoteStreamInner {
    key: StreamKey,
    call: Weak<dyn Subscriber>,
    /// The id within the call (a new one after the call is joined again).
    id: Cell<StreamId>,
    /// The height it is subscribed at, to subscribe again under a new id.
    subscribed: Cell<Option<u32>>,
    kind: StreamKind,
    available: Cell<bool>,
    receiving: Cell<bool>,
    size: Cell<(u32, u32)>,
    track: RefCell<Option<web_sys::MediaStreamTrack>>,
    /// `createView` calls waiting for the track.
    waiters: RefCell<Vec<futures_channel::oneshot::Sender<()>>>,
    views: RefCell<Vec<Weak<dyn TrackView>>>,
    emitter: Emitter,
    js: JsSelf,
}

impl Drop for RemoteStreamInner {
    fn drop(&mut self) {
        unregister(self.key);
    }
}

/// A remote participant's video stream (`RemoteVideoStream`).
#[wasm_bindgen]
#[derive(Clone)]
pub struct RemoteVideoStream {
    pub(crate) inner: Rc<RemoteStreamInner>,
}

impl RemoteVideoStream {
    /// A stream of a participant of `call`.
    pub(crate) fn new(
        call: Weak<dyn Subscriber>,
        id: StreamId,
        kind: StreamKind,
        available: bool,
    ) -> Self {
        RemoteVideoStream {
            inner: Rc::new_cyclic(|weak: &Weak<RemoteStreamInner>| RemoteStreamInner {
                key: register(weak.clone()),
                call,
                id: Cell::new(id),
                subscribed: Cell::new(None),
                kind,
                available: Cell::new(available),
                receiving: Cell::new(false),
                size: Cell::new((0, 0)),
                track: RefCell::new(None),
                waiters: RefCell::default(),
                views: RefCell::default(),
                emitter: Emitter::default(),
                js: JsSelf::default(),
            }),
        }
    }

    /// The object's one JS wrapper.
    pub fn js(&self) -> JsValue {
        self.inner.js.get(|| self.clone().into())
    }

    /// Lets the JS wrapper go (the participant left).
    pub(crate) fn release(&self) {
        self.set_available(false);
        self.inner.js.release();
    }

    /// The stream an app passed in, if it is one of ours.
    pub fn from_js(value: &JsValue) -> Option<Self> {
        stream_of::<RemoteStreamInner>(value).map(|inner| RemoteVideoStream { inner })
    }

    /// A view shows it from now on.
    pub(crate) fn add_view(&self, view: Weak<dyn TrackView>) {
        self.inner.views.borrow_mut().push(view);
    }

    /// A view no longer shows it; after the last one it is unsubscribed and its track goes.
    pub(crate) fn remove_view(&self, view: &dyn TrackView) {
        remove_view(&self.inner.views, view);
        if self.inner.views.borrow().is_empty() {
            self.subscribe(None);
            self.set_track(None);
        }
    }

    /// Whether a view shows it.
    pub(crate) fn has_views(&self) -> bool {
        !self.inner.views.borrow().is_empty()
    }

    /// Subscribes it at `max_height`, or (`None`) unsubscribes it.
    pub(crate) fn subscribe(&self, max_height: Option<u32>) {
        self.inner.subscribed.set(max_height);
        if let Some(call) = self.inner.call.upgrade() {
            call.subscribe(self.inner.id.get(), max_height);
        }
    }

    /// The stream's id within the call.
    pub(crate) fn stream_id(&self) -> StreamId {
        self.inner.id.get()
    }

    /// Whether it is a screen share.
    pub(crate) fn kind(&self) -> StreamKind {
        self.inner.kind
    }

    /// The call was joined again and the stream has a new id: subscribed again, if it was.
    pub(crate) fn rekey(&self, id: StreamId) {
        if self.inner.id.replace(id) == id {
            return;
        }
        self.set_track(None);
        if let Some(height) = self.inner.subscribed.get() {
            self.subscribe(Some(height));
        }
    }

    /// Updates availability; views of a stream that stops are disposed, as in ACS.
    pub(crate) fn set_available(&self, available: bool) {
        if self.inner.available.replace(available) == available {
            return;
        }
        if !available {
            let views: Vec<_> = self
                .inner
                .views
                .borrow()
                .iter()
                .filter_map(Weak::upgrade)
                .collect();
            for view in views {
                view.dispose();
            }
            self.set_track(None);
        }
        self.inner.emitter.changed("isAvailableChanged");
    }

    /// Whether the stream is being sent.
    pub fn available(&self) -> bool {
        self.inner.available.get()
    }

    /// The received track, once it arrived.
    pub fn track(&self) -> Option<web_sys::MediaStreamTrack> {
        self.inner.track.borrow().clone()
    }

    /// The track arrived (or went); wakes `createView` calls waiting for it.
    pub(crate) fn set_track(&self, track: Option<web_sys::MediaStreamTrack>) {
        let changed = {
            let mut slot = self.inner.track.borrow_mut();
            let changed = *slot != track;
            *slot = track.clone();
            changed
        };
        if track.is_some() {
            for waiter in self.inner.waiters.borrow_mut().drain(..) {
                let _ = waiter.send(());
            }
        }
        if changed {
            for view in self.inner.views.borrow().iter().filter_map(Weak::upgrade) {
                view.show(track.as_ref());
            }
        }
        self.set_receiving(track.as_ref().is_some_and(|t| !t.muted()));
    }

    /// Waits for the track (after subscribing).
    pub(crate) async fn wait_track(&self) -> Option<web_sys::MediaStreamTrack> {
        if let Some(track) = self.track() {
            return Some(track);
        }
        let (tx, rx) = futures_channel::oneshot::channel();
        self.inner.waiters.borrow_mut().push(tx);
        rx.await.ok()?;
        self.track()
    }

    /// `isReceiving` (frames arriving).
    pub(crate) fn set_receiving(&self, receiving: bool) {
        if self.inner.receiving.replace(receiving) != receiving {
            self.inner.emitter.changed("isReceivingChanged");
        }
    }

    /// `size` (the decoded frame size).
    pub(crate) fn set_size(&self, width: u32, height: u32) {
        if self.inner.size.replace((width, height)) != (width, height) {
            self.inner.emitter.changed("sizeChanged");
        }
    }
}

#[wasm_bindgen]
impl RemoteVideoStream {
    /// The stream's id within the call.
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> u32 {
        self.inner.id.get().0
    }

    /// `'Video'` (camera) or `'ScreenSharing'`.
    #[wasm_bindgen(getter, js_name = mediaStreamType)]
    pub fn media_stream_type(&self) -> String {
        match self.inner.kind {
            StreamKind::Video => "Video".into(),
            StreamKind::ScreenSharing => "ScreenSharing".into(),
        }
    }

    /// Being sent by the participant.
    #[wasm_bindgen(getter, js_name = isAvailable)]
    pub fn is_available(&self) -> bool {
        self.inner.available.get()
    }

    /// Frames arriving now (false while frozen or not subscribed).
    #[wasm_bindgen(getter, js_name = isReceiving)]
    pub fn is_receiving(&self) -> bool {
        self.inner.receiving.get()
    }

    /// Decoded frame size `{width, height}`.
    #[wasm_bindgen(getter, unchecked_return_type = "StreamSize")]
    pub fn size(&self) -> JsValue {
        let (width, height) = self.inner.size.get();
        object(&[("width", width.into()), ("height", height.into())])
    }

    /// The received `MediaStream`; rejects unless a view of the stream is open.
    #[wasm_bindgen(js_name = getMediaStream, unchecked_return_type = "Promise<MediaStream>")]
    pub fn get_media_stream(&self) -> js_sys::Promise {
        let track = self.track();
        promise(async move {
            let track = track.ok_or_else(|| {
                ApiError::new(
                    SubCode::WrongState,
                    "the stream is received only while a view of it is open",
                )
            })?;
            Ok(JsValue::from(web_sys::MediaStream::new_with_tracks(
                &js_sys::Array::of1(&track),
            )?))
        })
    }

    /// Finds this object again when an app passes it back (not part of the ACS API).
    #[wasm_bindgen(js_name = __rtcallKey, skip_typescript)]
    pub fn key(&self) -> u32 {
        self.inner.key
    }
}

emitter_methods!(RemoteVideoStream, "RemoteVideoStream");

/// Forgets `view` (and views that are gone) from a stream's list.
fn remove_view(views: &RefCell<Vec<Weak<dyn TrackView>>>, view: &dyn TrackView) {
    views
        .borrow_mut()
        .retain(|v| v.upgrade().is_some_and(|v| !v.is(view)));
}
