//! A call's audio stream objects, as `call.localAudioStreams` shows them: its microphone
//! stream (one object for the call's life, following the chosen microphone), or an app's own
//! audio between `startAudio` and `stopAudio`. Whichever is shown is the one the call's
//! [`LocalMedia`] sends.

use super::Call;
use crate::api::audio_stream::LocalAudioStream;
use crate::api::error::ApiError;
use crate::api::local_media::{AudioSource, LocalMedia};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

/// The audio stream objects of a call.
pub(super) struct CallAudio {
    media: Rc<LocalMedia>,
    microphone: RefCell<LocalAudioStream>,
    /// The app's own audio, sent instead of the microphone (`call.startAudio`).
    custom: RefCell<Option<LocalAudioStream>>,
}

impl CallAudio {
    /// The audio of a call sending `media`: the chosen microphone.
    pub(super) fn new(media: &Rc<LocalMedia>) -> CallAudio {
        let microphone = LocalAudioStream::with_source(AudioSource::Microphone(None));
        media.set_sending(Rc::clone(&microphone.inner.slot));
        CallAudio {
            media: Rc::clone(media),
            microphone: RefCell::new(microphone),
            custom: RefCell::new(None),
        }
    }

    /// What the call sends, as a `LocalAudioStream`: the custom audio, else the microphone.
    pub(super) fn shown(&self) -> LocalAudioStream {
        let custom = self.custom.borrow().clone();
        custom.unwrap_or_else(|| self.microphone.borrow().clone())
    }

    /// The shown stream goes on the audio line (opened by the next `open`), while the call
    /// lasts.
    fn send_shown(&self) {
        if self.media.is_live() {
            self.media.set_sending(Rc::clone(&self.shown().inner.slot));
        }
    }

    /// Takes the stream of the call options' `audioOptions.localAudioStreams` (the app's
    /// object `js`, handed back as is): a microphone to open, or custom audio to send.
    pub(crate) fn adopt(&self, stream: LocalAudioStream, js: &JsValue) {
        stream.js_from_app(js);
        let replaced = match stream.is_custom() {
            true => self.custom.replace(Some(stream)),
            false => Some(self.microphone.replace(stream)),
        };
        if let Some(replaced) = replaced {
            replaced.inner.slot.detach();
        }
        self.send_shown();
    }

    /// The call ended: its stream objects are let go.
    pub(super) fn close(&self) {
        let custom = self.custom.take();
        for stream in custom.iter().chain([&*self.microphone.borrow()]) {
            stream.inner.slot.detach();
            stream.release();
        }
    }
}

impl Call {
    /// Takes the app's `audioOptions.localAudioStreams` stream for the call.
    pub(crate) fn adopt_audio(&self, stream: LocalAudioStream, js: &JsValue) {
        self.inner.audio.adopt(stream, js);
    }

    /// Sends `custom` (an app's audio) or, with `None`, the microphone again; tells the app
    /// with `localAudioStreamsUpdated`.
    pub(super) async fn send_custom(
        &self,
        custom: Option<LocalAudioStream>,
    ) -> Result<(), ApiError> {
        let audio = &self.inner.audio;
        let before = audio.shown();
        if let Some(stream) = &custom {
            if Rc::ptr_eq(&stream.inner, &before.inner) {
                return Ok(());
            }
            stream.check_free()?;
        }
        let previous = std::mem::replace(&mut *audio.custom.borrow_mut(), custom);
        audio.send_shown();
        if let Err(e) = audio.media.open().await {
            let failed = std::mem::replace(&mut *audio.custom.borrow_mut(), previous);
            failed.inspect(|s| s.inner.slot.detach());
            audio.send_shown();
            return Err(e);
        }
        previous.inspect(|s| s.inner.slot.detach());
        self.inner.emitter.updated(
            "localAudioStreamsUpdated",
            vec![audio.shown().js()],
            vec![before.js()],
        );
        Ok(())
    }
}
