//! A call's local media as one piece of state: its RTCPeerConnection, what goes out on its audio
//! line (the microphone, or an app's audio) and how (mute, the DSP worklet that measures and
//! processes it, the noise suppression on, a shared tab's audio mixed in), and the user-facing
//! diagnostics that come from it. The call owns its [`LocalMedia`]; the objects that feed or
//! read it — `LocalAudioStream`, `LocalVideoStream`, `AudioEffectsFeature`,
//! `RemoteAudioStream`, the device manager — reach it, never the call itself.
//!
//! An audio stream's own state is an [`AudioSlot`] (where its audio comes from, its volume,
//! the call it belongs to): the call sends one slot at a time.

use super::convert::device_id;
use super::diagnostics::{UserFacingDiagnosticsFeature, Value};
use super::error::{ApiError, SubCode};
use super::volume::Volume;
use crate::api::promise::promise;
use crate::media::devices;
use crate::media::effects::{MicrophoneProcessor, Report};
use crate::media::peer::{replaced, PeerSession, SendSource};
use crate::media::screen::AudioMix;
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// rtcall's own noise suppression (the DSP worklet's), by its ACS effect name.
pub(crate) const DEEP: &str = "DeepNoiseSuppression";

/// The user-facing diagnostic raised while the microphone hears speech the call does not send.
const SPEAKING_WHILE_MUTED: &str = "speakingWhileMicrophoneIsMuted";

/// Which microphone the app chose (the device manager's): what a stream with no microphone of
/// its own opens.
pub(crate) trait MicrophoneChoice {
    /// The chosen microphone's id (`None`: the system default).
    fn microphone_id(&self) -> Option<String>;
    /// The microphone calls use, as an `AudioDeviceInfo` (`undefined` before devices are
    /// listed).
    fn selected_microphone(&self) -> JsValue;
}

/// Where a local audio stream's audio comes from.
#[derive(Clone)]
pub(crate) enum AudioSource {
    /// A microphone: an app's `AudioDeviceInfo` (its id, and the object to hand back), or
    /// `None` for the one `deviceManager.selectMicrophone` chose.
    Microphone(Option<(String, JsValue)>),
    /// An app's `MediaStream`: custom audio.
    Custom(web_sys::MediaStream),
}

impl AudioSource {
    /// What an app passes for one: an `AudioDeviceInfo` of a microphone, or a `MediaStream`
    /// with audio.
    pub(crate) fn from_js(value: JsValue) -> Result<Self, ApiError> {
        if let Some(stream) = value.dyn_ref::<web_sys::MediaStream>() {
            if devices::first_track(&stream.get_audio_tracks()).is_none() {
                return Err(ApiError::invalid_argument(
                    "the MediaStream has no audio track",
                ));
            }
            return Ok(AudioSource::Custom(Clone::clone(stream)));
        }
        let kind = js_sys::Reflect::get(&value, &"deviceType".into())
            .ok()
            .and_then(|k| k.as_string());
        match (device_id(&value), kind.as_deref()) {
            (Some(id), None | Some("Microphone")) => Ok(AudioSource::Microphone(Some((id, value)))),
            _ => Err(ApiError::invalid_argument(
                "a LocalAudioStream needs a microphone's AudioDeviceInfo (from getMicrophones) or a MediaStream",
            )),
        }
    }
}

/// A local audio stream's state, shared with the call it belongs to.
pub(crate) struct AudioSlot {
    pub(crate) source: RefCell<AudioSource>,
    /// The call it belongs to, if any.
    call: RefCell<Weak<LocalMedia>>,
    pub(crate) volume: Volume,
    /// Measures its level while no call sends it (a pre-call meter): the track it opened, and
    /// the DSP graph that listens to it.
    meter: RefCell<Option<(web_sys::MediaStreamTrack, Rc<MicrophoneProcessor>)>>,
}

impl AudioSlot {
    /// A stream of `source`, in no call.
    pub(crate) fn new(source: AudioSource) -> Rc<AudioSlot> {
        Rc::new(AudioSlot {
            source: RefCell::new(source),
            call: RefCell::new(Weak::new()),
            volume: Volume::new(),
            meter: RefCell::new(None),
        })
    }

    /// Measures the level while no call sends the stream: opens its audio (the microphone, or
    /// the app's track) and listens to it with the DSP worklet, until a call takes it.
    pub(crate) async fn meter(self: &Rc<Self>) -> Result<(), ApiError> {
        if self.meter.borrow().is_some() {
            return Ok(());
        }
        let source = self.source.borrow().clone();
        let track = match source {
            AudioSource::Custom(stream) => devices::first_track(&stream.get_audio_tracks())
                .ok_or_else(|| ApiError::invalid_argument("the MediaStream has no audio track"))?,
            AudioSource::Microphone(device) => {
                devices::open_microphone(device.as_ref().map(|(id, _)| id.as_str()), None)
                    .await
                    .map_err(|e| {
                        ApiError::from_js(SubCode::DeviceFailed, "cannot open the microphone", &e)
                    })?
            }
        };
        let slot = Rc::downgrade(self);
        let processor = MicrophoneProcessor::new(&track, move |report: Report| {
            if let Some(slot) = slot.upgrade() {
                slot.volume.set_level(report.level);
            }
        })
        .await
        .map_err(|e| {
            ApiError::from_js(SubCode::NotSupported, "cannot start the audio worklet", &e)
        })?;
        // Taken by a call meanwhile: the call's measures.
        if self.call().is_none() {
            *self.meter.borrow_mut() = Some((track, processor));
        } else if !self.is_custom() {
            track.stop();
        }
        Ok(())
    }

    /// Stops measuring on its own: a call sends it now (a microphone opened for the meter is
    /// closed; the app's own track is the app's).
    fn stop_meter(&self) {
        if let Some((track, _)) = self.meter.borrow_mut().take() {
            if !self.is_custom() {
                track.stop();
            }
        }
    }

    /// Whether it carries an app's audio rather than a microphone.
    pub(crate) fn is_custom(&self) -> bool {
        matches!(*self.source.borrow(), AudioSource::Custom(_))
    }

    /// The live call it belongs to.
    pub(crate) fn call(&self) -> Option<Rc<LocalMedia>> {
        self.call.borrow().upgrade().filter(|m| m.is_live())
    }

    /// The live call sending it right now (not one it was replaced in).
    pub(crate) fn sending_call(self: &Rc<Self>) -> Option<Rc<LocalMedia>> {
        self.call().filter(|media| media.sends(self))
    }

    /// It belongs to the call of `media` from now on; a level measured before goes on being
    /// measured, by the call.
    pub(crate) fn attach(&self, media: &Rc<LocalMedia>) {
        let metered = self.meter.borrow().is_some();
        self.stop_meter();
        *self.call.borrow_mut() = Rc::downgrade(media);
        if metered {
            media.listen();
        }
    }

    /// It belongs to no call.
    pub(crate) fn detach(&self) {
        *self.call.borrow_mut() = Weak::new();
    }
}

/// A call's local media. See the module docs.
pub(crate) struct LocalMedia {
    /// The call's one connection, once made; gone when the call ends.
    pub(crate) peer: RefCell<Option<PeerSession>>,
    /// The audio captured for sending, before effects: the microphone, or a clone of the app's
    /// custom audio track (so that mute and hang-up leave the app's own alone).
    pub(crate) microphone: RefCell<Option<web_sys::MediaStreamTrack>>,
    /// Muted, as the call's engine says (the call's `isMuted`).
    pub(crate) muted: Cell<bool>,
    ended: Cell<bool>,
    /// The stream on the audio line (the call's from its start; `None` once it ended).
    sending: RefCell<Option<Rc<AudioSlot>>>,
    choice: Weak<dyn MicrophoneChoice>,
    /// The DSP worklet, made when the app first asks for the volume, an effect or the
    /// speaking-while-muted diagnostic.
    pub(crate) processor: RefCell<Option<Rc<MicrophoneProcessor>>>,
    /// The processor being made (so that two callers wait for one).
    loading: RefCell<Option<js_sys::Promise>>,
    /// The app asked for processing: a microphone opened later gets processed.
    pub(crate) wanted: Cell<bool>,
    /// The noise suppression on, by name.
    pub(crate) active: RefCell<Option<&'static str>>,
    /// The browser's own suppression as last asked for (`None`: the browser's default), kept
    /// for every microphone the call opens.
    pub(crate) browser_suppression: Cell<Option<bool>>,
    /// A shared tab's audio, mixed with the microphone while a screen share carries it.
    pub(crate) mix: RefCell<Option<AudioMix>>,
    pub(crate) diagnostics: RefCell<Option<UserFacingDiagnosticsFeature>>,
}

impl LocalMedia {
    /// A call's local media before anything is open, muted or not; `choice` says which
    /// microphone the app chose.
    pub(crate) fn new(muted: bool, choice: Weak<dyn MicrophoneChoice>) -> Rc<LocalMedia> {
        Rc::new(LocalMedia {
            peer: RefCell::new(None),
            microphone: RefCell::new(None),
            muted: Cell::new(muted),
            ended: Cell::new(false),
            sending: RefCell::new(None),
            choice,
            processor: RefCell::new(None),
            loading: RefCell::new(None),
            wanted: Cell::new(false),
            active: RefCell::new(None),
            browser_suppression: Cell::new(None),
            mix: RefCell::new(None),
            diagnostics: RefCell::new(None),
        })
    }

    /// The call has not ended.
    pub(crate) fn is_live(&self) -> bool {
        !self.ended.get()
    }

    /// The microphone the app chose, as an `AudioDeviceInfo`.
    pub(crate) fn selected_microphone(&self) -> JsValue {
        self.choice
            .upgrade()
            .map_or(JsValue::UNDEFINED, |c| c.selected_microphone())
    }

    /// Puts `track` on one of the call's send lines; the promise settles once it is there.
    pub(crate) fn set_track(
        &self,
        source: SendSource,
        track: Option<web_sys::MediaStreamTrack>,
    ) -> Option<js_sys::Promise> {
        self.peer.borrow().as_ref()?.set_track(source, track)
    }

    /// Whether `slot` is the stream on the audio line.
    pub(crate) fn sends(&self, slot: &Rc<AudioSlot>) -> bool {
        self.sending
            .borrow()
            .as_ref()
            .is_some_and(|s| Rc::ptr_eq(s, slot))
    }

    /// Whether the call sends an app's audio rather than its microphone.
    pub(crate) fn sends_custom(&self) -> bool {
        self.sending
            .borrow()
            .as_ref()
            .is_some_and(|s| s.is_custom())
    }

    /// `slot` is the stream on the audio line from now on (opened by [`LocalMedia::open`]).
    pub(crate) fn set_sending(self: &Rc<Self>, slot: Rc<AudioSlot>) {
        slot.attach(self);
        *self.sending.borrow_mut() = Some(slot);
    }

    /// The track to send for the raw microphone `raw`: processed while rtcall's noise
    /// suppression is on.
    pub(crate) fn outgoing(&self, raw: &web_sys::MediaStreamTrack) -> web_sys::MediaStreamTrack {
        let deep = *self.active.borrow() == Some(DEEP);
        self.processor
            .borrow()
            .as_ref()
            .filter(|_| deep)
            .and_then(|p| p.track())
            .unwrap_or_else(|| Clone::clone(raw))
    }

    /// Opens what the call sends (the custom audio, or the stream's microphone, else the one
    /// the app chose) and sends it in place of what went before.
    pub(crate) async fn open(self: &Rc<Self>) -> Result<(), ApiError> {
        let source = self
            .sending
            .borrow()
            .as_ref()
            .map_or(AudioSource::Microphone(None), |s| s.source.borrow().clone());
        let track = match source {
            AudioSource::Custom(media) => devices::first_track(&media.get_audio_tracks())
                // A clone: mute disables it, and ending the call stops it, not the app's.
                .map(|track| web_sys::MediaStreamTrack::clone(&track))
                .ok_or_else(|| ApiError::invalid_argument("the MediaStream has no audio track"))?,
            AudioSource::Microphone(device) => {
                let chosen = || self.choice.upgrade()?.microphone_id();
                let id = device.map(|(id, _)| id).or_else(chosen);
                devices::open_microphone(id.as_deref(), self.browser_suppression.get())
                    .await
                    .map_err(|e| {
                        ApiError::from_js(SubCode::DeviceFailed, "cannot open the microphone", &e)
                    })?
            }
        };
        if !self.is_live() {
            track.stop();
            return Err(ApiError::new(SubCode::WrongState, "the call has ended"));
        }
        self.use_microphone(track).await;
        Ok(())
    }

    /// The app chose another microphone: a call on its microphone switches to it (and its
    /// stream follows the choice from now on); custom audio stays.
    pub(crate) async fn follow_chosen_microphone(self: &Rc<Self>) -> Result<(), ApiError> {
        if self.sends_custom() {
            return Ok(());
        }
        if let Some(slot) = self.sending.borrow().as_ref() {
            *slot.source.borrow_mut() = AudioSource::Microphone(None);
        }
        self.open().await
    }

    /// Uses `track` as the microphone (after the source changed, or at call start); returns
    /// once it is being sent.
    pub(crate) async fn use_microphone(self: &Rc<Self>, track: web_sys::MediaStreamTrack) {
        track.set_enabled(!self.muted.get());
        if let Some(p) = self.processor.borrow().as_ref() {
            if let Err(e) = p.set_input(&track) {
                web_sys::console::warn_2(&"rtcall: cannot process the new microphone".into(), &e);
            }
        }
        let old = self.microphone.borrow_mut().replace(Clone::clone(&track));
        self.send_microphone().await;
        if let Some(old) = old {
            old.stop();
        }
        // Processing asked for before now starts once the microphone is on the wire (the
        // worklet takes a moment to load), then carries it if an effect is on.
        if self.start_wanted(&track).await {
            self.send_microphone().await;
        }
    }

    /// Sends the microphone as it should go (raw, or through the DSP when an effect is on) on
    /// the audio line, or into the tab-audio mix while a tab's audio is shared; returns once
    /// it is on the wire.
    pub(crate) async fn send_microphone(&self) {
        let Some(raw) = self.microphone.borrow().clone() else {
            return;
        };
        let track = self.outgoing(&raw);
        let pending = match self.mix.borrow().as_ref() {
            Some(mix) => {
                mix.set_microphone(Some(&track));
                None
            }
            None => self.set_track(SendSource::Microphone, Some(track)),
        };
        replaced(pending).await;
    }

    /// Mutes or unmutes what the call sends at once: the microphone's track, and the
    /// processed track (the worklet keeps listening, for the speaking-while-muted
    /// diagnostic). [`LocalMedia::muted`] follows with the engine's change.
    pub(crate) fn mute_tracks(&self, muted: bool) {
        if let Some(track) = self.microphone.borrow().as_ref() {
            track.set_enabled(!muted);
        }
        if let Some(p) = self.processor.borrow().as_ref() {
            p.set_output_enabled(!muted);
        }
    }

    /// Makes the processor the app asked for before the microphone opened (or while another
    /// was being loaded from a previous microphone). Returns whether one was made.
    async fn start_wanted(self: &Rc<Self>, raw: &web_sys::MediaStreamTrack) -> bool {
        if !self.wanted.get() || self.processor.borrow().is_some() {
            return false;
        }
        let fed = self.processor(raw).await.and_then(|p| {
            p.set_input(raw).map_err(|e| {
                ApiError::from_js(SubCode::DeviceFailed, "cannot process the microphone", &e)
            })
        });
        if let Err(e) = &fed {
            web_sys::console::warn_2(
                &"rtcall: cannot process the microphone".into(),
                &e.message.clone().into(),
            );
        }
        fed.is_ok()
    }

    /// The processor, made (once) from `raw` if there is none.
    pub(crate) async fn processor(
        self: &Rc<Self>,
        raw: &web_sys::MediaStreamTrack,
    ) -> Result<Rc<MicrophoneProcessor>, ApiError> {
        if let Some(p) = self.processor.borrow().clone() {
            return Ok(p);
        }
        let pending = self.loading.borrow().clone();
        let promise = match pending {
            Some(promise) => promise,
            None => {
                let weak = Rc::downgrade(self);
                let raw = Clone::clone(raw);
                let reporting = weak.clone();
                let promise = promise(async move {
                    let processor = MicrophoneProcessor::new(&raw, move |report: Report| {
                        if let Some(media) = reporting.upgrade() {
                            media.report(report);
                        }
                    })
                    .await?;
                    // Not for a call that ended meanwhile: dropped, its audio context closes.
                    if let Some(media) = weak.upgrade().filter(|m| m.wanted.get()) {
                        processor.set_noise_suppression(*media.active.borrow() == Some(DEEP));
                        processor.set_output_enabled(!media.muted.get());
                        *media.processor.borrow_mut() = Some(processor);
                    }
                    Ok(JsValue::UNDEFINED)
                });
                *self.loading.borrow_mut() = Some(promise.clone());
                promise
            }
        };
        let result = JsFuture::from(promise).await;
        self.loading.borrow_mut().take();
        result.map_err(|e| {
            ApiError::from_js(SubCode::NotSupported, "cannot start the audio worklet", &e)
        })?;
        self.processor
            .borrow()
            .clone()
            .ok_or_else(|| ApiError::new(SubCode::WrongState, "the call ended"))
    }

    /// What the worklet measured: the level of the stream being sent, and speech (raising or
    /// clearing "speaking while muted").
    fn report(&self, report: Report) {
        if let Some(slot) = self.sending.borrow().as_ref() {
            slot.volume.set_level(report.level);
        }
        if let Some(diagnostics) = self.diagnostics.borrow().as_ref() {
            diagnostics.media_group().set(
                SPEAKING_WHILE_MUTED,
                Value::Flag(report.speaking && self.muted.get()),
            );
        }
    }

    /// Starts the microphone's processing for diagnostics, now or when the microphone opens.
    pub(crate) fn listen(self: &Rc<Self>) {
        self.wanted.set(true);
        let Some(raw) = self.microphone.borrow().clone() else {
            return;
        };
        let media = Rc::clone(self);
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(e) = media.processor(&raw).await {
                web_sys::console::warn_2(
                    &"rtcall: no speaking-while-muted diagnostic".into(),
                    &e.message.into(),
                );
            }
        });
    }

    /// The call ended: the connection closes, the microphone stops, the worklet's context
    /// closes, streams are let go.
    pub(crate) fn close(&self) {
        self.ended.set(true);
        if let Some(peer) = self.peer.borrow_mut().take() {
            peer.close();
        }
        if let Some(track) = self.microphone.borrow_mut().take() {
            track.stop();
        }
        self.processor.borrow_mut().take();
        self.wanted.set(false);
        if let Some(slot) = self.sending.borrow_mut().take() {
            slot.detach();
        }
    }
}
