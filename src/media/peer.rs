//! A call's one `RTCPeerConnection`, negotiated by the server: each offer is applied in turn,
//! the local tracks are attached to the m-lines the offer says to send on, remote audio lines
//! are played, and remote video tracks are handed to the call by stream id; data channels the
//! service opens are handed to the call too. Switching a local track (another microphone or
//! camera, or none) is `replaceTrack`, never a renegotiation.

use super::audio::RemoteAudio;
use rtcall_protocol::call::StreamId;
use rtcall_protocol::signal::{IceServer, MediaLine, VideoSource};
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// A local source the connection sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SendSource {
    /// The microphone.
    Microphone,
    /// The camera or another local video.
    Camera,
    /// The shared screen, window or tab.
    Screen,
}

/// A server offer.
#[derive(Debug, Clone)]
pub struct Offer {
    /// Version, echoed by the answer.
    pub version: u32,
    /// SDP.
    pub sdp: String,
    /// What each line carries.
    pub media: Vec<MediaLine>,
}

/// Called with each answer (version, SDP or the failure).
pub type OnAnswer = Box<dyn Fn(u32, Result<String, JsValue>)>;
/// Called with the remote video tracks after each negotiation, by stream.
pub type OnVideo = Box<dyn Fn(Vec<(StreamId, web_sys::MediaStreamTrack)>)>;
/// Called with each data channel the service opens (an `RTCDataChannel`).
pub type OnChannel = Box<dyn Fn(JsValue)>;

#[derive(Default)]
struct State {
    lines: Vec<MediaLine>,
    tracks: HashMap<SendSource, web_sys::MediaStreamTrack>,
    audio: HashMap<String, RemoteAudio>,
    sink: Option<String>,
    queue: VecDeque<Offer>,
    busy: bool,
    closed: bool,
}

/// The connection.
pub struct PeerSession {
    pc: web_sys::RtcPeerConnection,
    state: Rc<RefCell<State>>,
    on_answer: Rc<OnAnswer>,
    on_video: Rc<OnVideo>,
    _on_channel: Closure<dyn FnMut(JsValue)>,
}

impl std::fmt::Debug for PeerSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerSession").finish()
    }
}

fn ice_server_js(server: &IceServer) -> JsValue {
    let object = js_sys::Object::new();
    let urls: js_sys::Array = server.urls.iter().map(|u| JsValue::from_str(u)).collect();
    let _ = js_sys::Reflect::set(&object, &"urls".into(), &urls);
    if let Some(username) = &server.username {
        let _ = js_sys::Reflect::set(&object, &"username".into(), &username.into());
    }
    if let Some(credential) = &server.credential {
        let _ = js_sys::Reflect::set(&object, &"credential".into(), &credential.into());
    }
    object.into()
}

fn mid_of(transceiver: &web_sys::RtcRtpTransceiver) -> Option<String> {
    transceiver.mid()
}

impl PeerSession {
    /// A connection using `ice_servers` (besides the server's own address from its offers).
    pub fn new(
        ice_servers: &[IceServer],
        on_answer: OnAnswer,
        on_video: OnVideo,
        on_channel: OnChannel,
    ) -> Result<Self, JsValue> {
        let config = web_sys::RtcConfiguration::new();
        let servers: js_sys::Array = ice_servers.iter().map(ice_server_js).collect();
        config.set_ice_servers(&servers);
        config.set_bundle_policy(web_sys::RtcBundlePolicy::MaxBundle);
        let pc = web_sys::RtcPeerConnection::new_with_configuration(&config)?;
        let on_channel = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
            if let Ok(channel) = js_sys::Reflect::get(&event, &"channel".into()) {
                on_channel(channel);
            }
        });
        pc.set_ondatachannel(Some(on_channel.as_ref().unchecked_ref()));
        Ok(PeerSession {
            pc,
            state: Rc::default(),
            on_answer: Rc::new(on_answer),
            on_video: Rc::new(on_video),
            _on_channel: on_channel,
        })
    }

    /// The underlying connection (for statistics).
    pub fn connection(&self) -> &web_sys::RtcPeerConnection {
        &self.pc
    }

    /// Queues an offer; offers are applied one at a time, in order.
    pub fn handle_offer(&self, offer: Offer) {
        {
            let mut state = self.state.borrow_mut();
            state.queue.push_back(offer);
            if state.busy {
                return;
            }
            state.busy = true;
        }
        let (pc, state, on_answer, on_video) = (
            self.pc.clone(),
            Rc::clone(&self.state),
            Rc::clone(&self.on_answer),
            Rc::clone(&self.on_video),
        );
        wasm_bindgen_futures::spawn_local(async move {
            loop {
                let next = {
                    let mut s = state.borrow_mut();
                    if s.closed {
                        s.busy = false;
                        return;
                    }
                    match s.queue.pop_front() {
                        Some(offer) => offer,
                        None => {
                            s.busy = false;
                            return;
                        }
                    }
                };
                let version = next.version;
                let result = apply_offer(&pc, &state, next).await;
                if state.borrow().closed {
                    // The call ended while the offer was being applied (the connection closed
                    // under it): there is no one left to answer.
                    state.borrow_mut().busy = false;
                    return;
                }
                let videos = remote_videos(&pc, &state);
                on_answer(version, result);
                on_video(videos);
            }
        });
    }

    /// Sets what a local source sends (`None`: nothing), replacing the track on the line if it
    /// is negotiated already (later offers use it too). Returns the replacement's promise, for
    /// callers that wait until the new track is on the wire.
    pub fn set_track(
        &self,
        source: SendSource,
        track: Option<web_sys::MediaStreamTrack>,
    ) -> Option<js_sys::Promise> {
        {
            let mut state = self.state.borrow_mut();
            match &track {
                Some(t) => state.tracks.insert(source, Clone::clone(t)),
                None => state.tracks.remove(&source),
            };
        }
        let state = self.state.borrow();
        let transceiver = find_send_transceiver(&self.pc, &state.lines, source)?;
        let sender = transceiver.sender();
        tune(&sender, source, track.as_ref());
        Some(sender.replace_track(track.as_ref()))
    }

    /// What each line of the connection carries, as the last offer said.
    pub fn lines(&self) -> Vec<MediaLine> {
        self.state.borrow().lines.clone()
    }

    /// The track currently set for a source.
    pub fn track(&self, source: SendSource) -> Option<web_sys::MediaStreamTrack> {
        self.state.borrow().tracks.get(&source).cloned()
    }

    /// Routes remote audio to an output device.
    pub fn set_sink(&self, sink: &str) {
        let mut state = self.state.borrow_mut();
        state.sink = Some(sink.to_owned());
        for audio in state.audio.values() {
            audio.set_sink(sink);
        }
    }

    /// Closes the connection and stops playing remote audio.
    pub fn close(&self) {
        let mut state = self.state.borrow_mut();
        state.closed = true;
        state.audio.clear();
        state.queue.clear();
        self.pc.set_ondatachannel(None);
        self.pc.close();
    }
}

/// Sender settings that depend on what is sent: a screen share's profile.
fn tune(
    sender: &web_sys::RtcRtpSender,
    source: SendSource,
    track: Option<&web_sys::MediaStreamTrack>,
) {
    if let (SendSource::Screen, Some(track)) = (source, track) {
        super::screen::tune_sender(sender, super::screen::ScreenProfile::of(track));
    }
}

fn role_of<'a>(lines: &'a [MediaLine], mid: &str) -> Option<&'a MediaLine> {
    lines.iter().find(|line| match line {
        MediaLine::SendAudio { mid: m }
        | MediaLine::SendVideo { mid: m, .. }
        | MediaLine::ReceiveAudio { mid: m, .. }
        | MediaLine::ReceiveVideo { mid: m, .. } => m == mid,
    })
}

fn find_send_transceiver(
    pc: &web_sys::RtcPeerConnection,
    lines: &[MediaLine],
    source: SendSource,
) -> Option<web_sys::RtcRtpTransceiver> {
    let mid = lines.iter().find_map(|line| match (line, source) {
        (MediaLine::SendAudio { mid }, SendSource::Microphone) => Some(mid),
        (
            MediaLine::SendVideo {
                mid,
                source: VideoSource::Camera,
            },
            SendSource::Camera,
        ) => Some(mid),
        (
            MediaLine::SendVideo {
                mid,
                source: VideoSource::Screen,
            },
            SendSource::Screen,
        ) => Some(mid),
        _ => None,
    })?;
    pc.get_transceivers()
        .iter()
        .map(|t| t.unchecked_into::<web_sys::RtcRtpTransceiver>())
        .find(|t| mid_of(t).as_deref() == Some(mid.as_str()))
}

async fn apply_offer(
    pc: &web_sys::RtcPeerConnection,
    state: &Rc<RefCell<State>>,
    offer: Offer,
) -> Result<String, JsValue> {
    let description = web_sys::RtcSessionDescriptionInit::new(web_sys::RtcSdpType::Offer);
    description.set_sdp(&offer.sdp);
    JsFuture::from(pc.set_remote_description(&description)).await?;
    state.borrow_mut().lines = offer.media.clone();
    let mut playing = Vec::new();
    for transceiver in pc.get_transceivers().iter() {
        let transceiver: web_sys::RtcRtpTransceiver = transceiver.unchecked_into();
        let Some(mid) = mid_of(&transceiver) else {
            continue;
        };
        let source = match role_of(&offer.media, &mid) {
            Some(MediaLine::SendAudio { .. }) => Some(SendSource::Microphone),
            Some(MediaLine::SendVideo {
                source: VideoSource::Camera,
                ..
            }) => Some(SendSource::Camera),
            Some(MediaLine::SendVideo {
                source: VideoSource::Screen,
                ..
            }) => Some(SendSource::Screen),
            Some(MediaLine::ReceiveAudio { .. }) => {
                transceiver.set_direction(web_sys::RtcRtpTransceiverDirection::Recvonly);
                playing.push((mid, transceiver.receiver().track()));
                None
            }
            Some(MediaLine::ReceiveVideo { .. }) => {
                transceiver.set_direction(web_sys::RtcRtpTransceiverDirection::Recvonly);
                None
            }
            None => None,
        };
        if let Some(source) = source {
            transceiver.set_direction(web_sys::RtcRtpTransceiverDirection::Sendonly);
            // The track as it is now, not as it was when the offer came: a camera that opened
            // while this offer was being applied must not be replaced by the nothing before it.
            let track = state.borrow().tracks.get(&source).cloned();
            let sender = transceiver.sender();
            JsFuture::from(sender.replace_track(track.as_ref())).await?;
            tune(&sender, source, track.as_ref());
        }
    }
    let answer = JsFuture::from(pc.create_answer()).await?;
    let answer: web_sys::RtcSessionDescriptionInit = answer.unchecked_into();
    JsFuture::from(pc.set_local_description(&answer)).await?;
    // Play new remote audio lines; stop those no longer offered.
    let mut s = state.borrow_mut();
    let sink = s.sink.clone();
    let keep: Vec<String> = playing.iter().map(|(mid, _)| mid.clone()).collect();
    s.audio.retain(|mid, _| keep.contains(mid));
    for (mid, track) in playing {
        if let std::collections::hash_map::Entry::Vacant(slot) = s.audio.entry(mid) {
            if let Some(audio) = RemoteAudio::play(&track, sink.as_deref()) {
                slot.insert(audio);
            }
        }
    }
    pc.local_description()
        .map(|d| d.sdp())
        .ok_or_else(|| JsValue::from_str("no local description after answering"))
}

fn remote_videos(
    pc: &web_sys::RtcPeerConnection,
    state: &Rc<RefCell<State>>,
) -> Vec<(StreamId, web_sys::MediaStreamTrack)> {
    let lines = state.borrow().lines.clone();
    pc.get_transceivers()
        .iter()
        .filter_map(|t| {
            let transceiver: web_sys::RtcRtpTransceiver = t.unchecked_into();
            let mid = mid_of(&transceiver)?;
            match role_of(&lines, &mid) {
                Some(MediaLine::ReceiveVideo { stream_id, .. }) => {
                    Some((*stream_id, transceiver.receiver().track()))
                }
                _ => None,
            }
        })
        .collect()
}

/// Waits for a track replacement from [`PeerSession::set_track`]. A failed replacement leaves the
/// old track; the next offer sets the new one again.
pub async fn replaced(pending: Option<js_sys::Promise>) {
    if let Some(promise) = pending {
        let _ = JsFuture::from(promise).await;
    }
}
