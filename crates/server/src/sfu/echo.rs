//! The echo test bot as a member of an SFU call: it has no connection of its own; the caller's
//! frames go into its [`EchoSession`] and what the session plays comes out on the caller's lines
//! for the bot, re-timed. Bots are keyed by their caller's peer, so a forwarded frame costs one
//! map lookup to tell whether a bot wants it.

use super::lines::{AudioOut, LineState};
use super::router::choose_layer;
use super::PeerId;
use super::Sfu;
use crate::contract::{LegKey, MediaEvent};
use crate::echo::{EchoOutput, EchoPhase, EchoSession};
use rtcall_protocol::call::ParticipantId;
use rtcall_protocol::signal::{EchoReport, VideoSource};
use std::sync::Arc;
use std::time::{Duration, Instant};
use str0m::format::{Codec, PayloadParams};
use str0m::media::{Frequency, MediaData, MediaTime, Rid};

/// How often the bot tells the caller how the test goes.
const REPORT_EVERY: Duration = Duration::from_secs(1);
/// How often it asks for a keyframe while recording, so that a recording holds several places
/// the picture can start from.
const RECORDING_KEYFRAME_EVERY: Duration = Duration::from_secs(1);
/// The simulcast layer recorded: one layer, good enough to see yourself.
const RECORDED_HEIGHT: u32 = 360;

/// A recorded frame of the caller's: what playing it back takes.
#[derive(Clone)]
pub(super) struct EchoFrame {
    params: PayloadParams,
    time: MediaTime,
    data: Arc<[u8]>,
    keyframe: bool,
    audio_level: Option<i8>,
    voice_activity: bool,
}

/// The bot of one echo test call.
pub(super) struct EchoBot {
    /// The bot's id as the source of the caller's lines (it is not a peer).
    id: PeerId,
    leg: LegKey,
    caller_leg: LegKey,
    /// Starts once the caller can hear it: connected, with the bot's audio line negotiated.
    session: Option<EchoSession<EchoFrame>>,
    /// The simulcast layer of the recording under way, fixed when it starts.
    layer: Option<Rid>,
    /// How many prompts and recordings were played: each one is a new source for the retimer.
    cycle: u64,
    prompt_ticks: u64,
    next_report: Instant,
    last_keyframe_request: Option<Instant>,
}

impl EchoBot {
    /// The retimer key of what is played now: the prompt tone and each playback are separate
    /// sources, so the caller's lines stay continuous across them.
    fn retimer_key(&self) -> (PeerId, Option<Rid>) {
        (self.id, Some(Rid::from(self.cycle.to_string().as_str())))
    }
}

impl Sfu {
    /// Starts the bot `leg`, answering participant `caller` of the same call.
    pub(super) fn open_echo(&mut self, now: Instant, leg: LegKey, caller: ParticipantId) {
        let caller_leg = LegKey {
            call: leg.call.clone(),
            participant: caller,
        };
        let Some(caller_id) = self.peer_id(&caller_leg) else {
            return;
        };
        let id = self.next_id;
        self.next_id += 1;
        if let Some(peer) = self.peers.get_mut(&caller_id) {
            peer.audio_out.push(AudioOut::of(id, leg.participant));
        }
        self.echo_bots.insert(
            caller_id,
            EchoBot {
                id,
                leg,
                caller_leg,
                session: None,
                layer: None,
                cycle: 0,
                prompt_ticks: 0,
                next_report: now,
                last_keyframe_request: None,
            },
        );
        self.negotiate(caller_id);
        self.drive_dirty(now);
    }

    /// The echo bot's id if `leg` is one.
    pub(super) fn echo_bot_id(&self, leg: &LegKey) -> Option<PeerId> {
        self.echo_bots
            .values()
            .find(|bot| bot.leg == *leg)
            .map(|bot| bot.id)
    }

    /// Stops the bot if `leg` is one: its lines to the caller go. Returns whether it was.
    pub(super) fn close_echo(&mut self, leg: &LegKey) -> bool {
        let Some(caller) = self
            .echo_bots
            .iter()
            .find(|(_, bot)| bot.leg == *leg)
            .map(|(caller, _)| *caller)
        else {
            return false;
        };
        let Some(bot) = self.echo_bots.remove(&caller) else {
            return false;
        };
        if let Some(peer) = self.peers.get_mut(&caller) {
            peer.stop_audio_from(bot.id);
            peer.stop_video_from(bot.id);
        }
        self.negotiate(caller);
        true
    }

    /// Gives a frame of `source`'s to its bot, if it is an echo test caller.
    pub(super) fn feed_echo(&mut self, now: Instant, source: PeerId, data: &MediaData) {
        let Some(bot) = self.echo_bots.get_mut(&source) else {
            return;
        };
        let Some(session) = bot.session.as_mut() else {
            return;
        };
        let Some(peer) = self.peers.get(&source) else {
            return;
        };
        let Some(up) = peer.upstream else {
            return;
        };
        let video = data.mid != up.audio;
        if video {
            if peer.video_source_of(data.mid) != Some(VideoSource::Camera) {
                return;
            }
            if let Some(rid) = data.rid {
                // The recording keeps to one layer: the one that fits, else this frame's.
                let layer = *bot.layer.get_or_insert_with(|| {
                    choose_layer(&peer.fresh_layers(data.mid, now), RECORDED_HEIGHT).unwrap_or(rid)
                });
                if rid != layer {
                    return;
                }
            }
        }
        let frame = EchoFrame {
            params: data.params,
            time: data.time,
            data: Arc::clone(&data.data),
            keyframe: data.is_keyframe(),
            audio_level: data.ext_vals.audio_level,
            voice_activity: data.ext_vals.voice_activity.unwrap_or(false),
        };
        session.handle_frame(now, video, frame.keyframe, frame);
    }

    /// When an echo bot next needs time.
    pub(super) fn echo_timeout(&self) -> Option<Instant> {
        self.echo_bots
            .values()
            .filter_map(|bot| Some(bot.session.as_ref()?.poll_timeout().min(bot.next_report)))
            .min()
    }

    /// Runs every bot: starts those the caller can now hear, plays what falls due, announces
    /// video, reports.
    pub(super) fn drive_echo(&mut self, now: Instant) {
        let callers: Vec<PeerId> = self.echo_bots.keys().copied().collect();
        for caller in callers {
            if !self.start_echo_if_heard(now, caller) {
                continue;
            }
            while let Some(output) = self.echo_bots.get_mut(&caller).and_then(|bot| {
                let session = bot.session.as_mut()?;
                session.handle_timeout(now);
                session.poll_output()
            }) {
                self.handle_echo_output(now, caller, output);
            }
            self.keep_recording_decodable(now, caller);
            if self
                .echo_bots
                .get(&caller)
                .is_some_and(|bot| now >= bot.next_report)
            {
                self.report(now, caller);
            }
        }
    }

    /// Starts the bot's session once its caller is connected and the bot's audio line is
    /// negotiated (so the prompt is heard from its start). Returns whether it runs.
    fn start_echo_if_heard(&mut self, now: Instant, caller: PeerId) -> bool {
        let Some(bot) = self.echo_bots.get_mut(&caller) else {
            return false;
        };
        if bot.session.is_some() {
            return true;
        }
        let heard = self.peers.get(&caller).is_some_and(|peer| {
            peer.connected
                && peer
                    .audio_out
                    .iter()
                    .any(|l| l.source == Some(bot.id) && l.state.open_mid().is_some())
        });
        if heard {
            bot.session = Some(EchoSession::new(self.config.echo, now));
        }
        heard
    }

    fn handle_echo_output(&mut self, now: Instant, caller: PeerId, output: EchoOutput<EchoFrame>) {
        let Some(bot) = self.echo_bots.get_mut(&caller) else {
            return;
        };
        match output {
            EchoOutput::Prompt(opus) => {
                let time = MediaTime::new(bot.prompt_ticks, Frequency::FORTY_EIGHT_KHZ);
                bot.prompt_ticks += 960;
                self.play_prompt(now, caller, time, opus);
            }
            EchoOutput::Play { video, frame } => self.play(now, caller, video, &frame),
            EchoOutput::Phase(phase) => {
                bot.cycle += 1;
                if phase == EchoPhase::Recording {
                    bot.layer = None;
                    bot.last_keyframe_request = None;
                }
                self.report(now, caller);
            }
            EchoOutput::VideoAvailable(available) => {
                let leg = bot.leg.clone();
                self.events
                    .push_back(MediaEvent::EchoVideo { leg, available });
            }
        }
    }

    /// While recording, asks for a keyframe of the recorded layer now and then.
    fn keep_recording_decodable(&mut self, now: Instant, caller: PeerId) {
        let Some(bot) = self.echo_bots.get_mut(&caller) else {
            return;
        };
        let recording = bot
            .session
            .as_ref()
            .is_some_and(|s| s.phase() == EchoPhase::Recording);
        let due = recording
            && bot
                .last_keyframe_request
                .is_none_or(|at| now.saturating_duration_since(at) >= RECORDING_KEYFRAME_EVERY);
        if !due {
            return;
        }
        bot.last_keyframe_request = Some(now);
        let layer = bot.layer.or_else(|| {
            let peer = self.peers.get(&caller)?;
            let mid = peer.video_mid(VideoSource::Camera)?;
            choose_layer(&peer.fresh_layers(mid, now), RECORDED_HEIGHT)
        });
        self.request_keyframe(now, caller, VideoSource::Camera, layer, true);
    }

    fn play_prompt(&mut self, now: Instant, caller: PeerId, time: MediaTime, opus: Arc<[u8]>) {
        let Some(bot) = self.echo_bots.get(&caller) else {
            return;
        };
        let Some(peer) = self.peers.get_mut(&caller).filter(|p| !p.hold) else {
            return;
        };
        let Some(line) = peer.audio_out.iter_mut().find(|l| l.source == Some(bot.id)) else {
            return;
        };
        let Some(mid) = line.state.open_mid() else {
            return;
        };
        let time = line.retimer.map(bot.retimer_key(), time, now);
        let Some(writer) = peer.rtc.writer(mid) else {
            return;
        };
        let Some(pt) = writer
            .payload_params()
            .find(|p| p.spec().codec == Codec::Opus)
            .map(|p| p.pt())
        else {
            return;
        };
        if let Err(e) = writer.audio_level(-25, true).write(pt, now, time, opus) {
            tracing::debug!(error = %e, "echo prompt write failed");
        }
        self.dirty.push(caller);
    }

    fn play(&mut self, now: Instant, caller: PeerId, video: bool, frame: &EchoFrame) {
        let Some(bot) = self.echo_bots.get(&caller) else {
            return;
        };
        let Some(peer) = self.peers.get_mut(&caller).filter(|p| !p.hold) else {
            return;
        };
        let key = bot.retimer_key();
        let (mid, retimer) = if video {
            let Some(line) = peer
                .video_out
                .iter_mut()
                .find(|l| l.source == bot.id && matches!(l.state, LineState::Open(_)))
            else {
                return;
            };
            // A watcher's picture starts at a keyframe.
            if !line.started {
                if !frame.keyframe {
                    return;
                }
                line.started = true;
            }
            (line.state.open_mid(), &mut line.retimer)
        } else {
            let Some(line) = peer.audio_out.iter_mut().find(|l| l.source == Some(bot.id)) else {
                return;
            };
            (line.state.open_mid(), &mut line.retimer)
        };
        let time = retimer.map(key, frame.time, now);
        let Some(mid) = mid else {
            return;
        };
        let Some(mut writer) = peer.rtc.writer(mid) else {
            return;
        };
        let Some(pt) = writer.match_params(frame.params) else {
            return;
        };
        if let Some(level) = frame.audio_level {
            writer = writer.audio_level(level, frame.voice_activity);
        }
        if let Err(e) = writer.write(pt, now, time, Arc::clone(&frame.data)) {
            tracing::debug!(error = %e, "echo playback write failed");
        }
        self.dirty.push(caller);
    }

    /// Tells the caller how the test goes.
    fn report(&mut self, now: Instant, caller: PeerId) {
        let Some(bot) = self.echo_bots.get_mut(&caller) else {
            return;
        };
        let Some(session) = bot.session.as_ref() else {
            return;
        };
        bot.next_report = now + REPORT_EVERY;
        let (audio, video) = session.received();
        let link = self.peers.get(&caller).map(|p| p.link).unwrap_or_default();
        self.events.push_back(MediaEvent::EchoReport {
            leg: bot.caller_leg.clone(),
            report: EchoReport {
                phase: session.phase().as_str().to_owned(),
                audio_received: audio,
                video_received: video,
                round_trip_ms: link.rtt.map(|rtt| rtt.as_secs_f64() * 1000.0),
                packet_loss_percent: link.loss.map(|loss| f64::from(loss) * 100.0),
                // Opus RTP time runs at 48 kHz.
                jitter_ms: link.audio_jitter.map(|ticks| f64::from(ticks) / 48.0),
            },
        });
    }
}
