//! Sending a local video (a camera, or an app's `MediaStream`) on the call's camera line:
//! one at a time, switched in place by the stream's own `switchSource`.

use super::Call;
use crate::api::error::{ApiError, SubCode};
use crate::api::streams::LocalVideoStream;
use crate::media::peer::{replaced, SendSource};
use rtcall_protocol::signal::VideoSource;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

impl Call {
    /// Starts sending a local video.
    pub async fn start_video(&self, stream: LocalVideoStream, js: JsValue) -> Result<(), ApiError> {
        self.check_active()?;
        if self
            .inner
            .local_video
            .borrow()
            .iter()
            .any(|(s, _)| Rc::ptr_eq(&s.inner, &stream.inner))
        {
            return Err(ApiError::new(
                SubCode::WrongState,
                "this video is already being sent",
            ));
        }
        if !self.inner.local_video.borrow().is_empty() {
            return Err(ApiError::new(
                SubCode::WrongState,
                "another video is being sent; stop it or use switchSource",
            ));
        }
        let track = stream.acquire().await?;
        replaced(self.inner.media.set_track(SendSource::Camera, Some(track))).await;
        stream.attach_call(&self.inner.media);
        self.inner
            .local_video
            .borrow_mut()
            .push((stream, js.clone()));
        self.inner.emitter.changed("isLocalVideoStartedChanged");
        self.inner
            .emitter
            .updated("localVideoStreamsUpdated", vec![js], Vec::new());
        self.set_video(VideoSource::Camera, true).await
    }

    /// Stops sending a local video.
    pub async fn stop_video(&self, stream: LocalVideoStream) -> Result<(), ApiError> {
        let removed = {
            let mut list = self.inner.local_video.borrow_mut();
            let i = list
                .iter()
                .position(|(s, _)| Rc::ptr_eq(&s.inner, &stream.inner))
                .ok_or_else(|| {
                    ApiError::new(SubCode::WrongState, "this video is not being sent")
                })?;
            list.remove(i)
        };
        replaced(self.inner.media.set_track(SendSource::Camera, None)).await;
        removed.0.detach_call(&self.inner.media);
        removed.0.release();
        self.inner.emitter.changed("isLocalVideoStartedChanged");
        self.inner
            .emitter
            .updated("localVideoStreamsUpdated", Vec::new(), vec![removed.1]);
        if self.check_active().is_err() {
            return Ok(());
        }
        self.set_video(VideoSource::Camera, false).await
    }
}
