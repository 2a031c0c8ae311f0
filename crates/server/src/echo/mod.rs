//! The echo test bot (`8:echo123`): it plays a short prompt tone, records what the caller sends
//! for a while (audio, and video if any), plays the recording back, and starts over until the
//! caller hangs up. Frames are kept as received and re-timed on the way back: no transcoding.
//!
//! [`EchoSession`] is the timing, sans-IO: frames and time in, frames to send and phase changes
//! out. The SFU feeds it the caller's media and writes what it returns to the caller.

use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// The bot's raw id.
pub const ECHO_BOT: &str = "8:echo123";
/// The name the caller sees.
pub const ECHO_BOT_NAME: &str = "Echo test";

/// One audio frame's duration (Opus at 20 ms).
const FRAME: Duration = Duration::from_millis(20);

/// Where the bot is in its cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EchoPhase {
    /// Playing the prompt tone.
    Prompt,
    /// Recording the caller.
    Recording,
    /// Playing the recording back.
    Playback,
}

impl EchoPhase {
    /// As the client reads it.
    pub fn as_str(self) -> &'static str {
        match self {
            EchoPhase::Prompt => "prompt",
            EchoPhase::Recording => "recording",
            EchoPhase::Playback => "playback",
        }
    }
}

/// A frame of the caller's, as recorded: opaque to the bot.
#[derive(Debug, Clone)]
pub struct Recorded<F> {
    /// Offset from the start of recording.
    pub at: Duration,
    /// Video (else audio).
    pub video: bool,
    /// The frame.
    pub frame: F,
}

/// What the session wants done.
#[derive(Debug, Clone, PartialEq)]
pub enum EchoOutput<F> {
    /// Send this prompt tone frame (Opus).
    Prompt(Arc<[u8]>),
    /// Send this recorded frame back.
    Play {
        /// Video (else audio).
        video: bool,
        /// The frame.
        frame: F,
    },
    /// The phase changed (recording starts: ask the caller for a keyframe).
    Phase(EchoPhase),
    /// The bot's video is being sent (playback with video) or not.
    VideoAvailable(bool),
}

/// The bot's timing.
#[derive(Debug, Clone, Copy)]
pub struct EchoConfig {
    /// How long a recording lasts.
    pub record: Duration,
}

impl Default for EchoConfig {
    fn default() -> Self {
        EchoConfig {
            record: Duration::from_secs(10),
        }
    }
}

/// One echo test call's bot. `F` is the recorded frame type (the SFU's media data).
#[derive(Debug)]
pub struct EchoSession<F> {
    config: EchoConfig,
    phase: EchoPhase,
    /// When the current phase started.
    since: Instant,
    /// Prompt frames sent so far in this prompt.
    prompt_sent: usize,
    recording: Vec<Recorded<F>>,
    /// Playback: index of the next frame to play.
    next: usize,
    /// Whether video has started in the current recording (it starts at a keyframe).
    video_started: bool,
    outputs: VecDeque<EchoOutput<F>>,
    /// What the last recording contained, for the caller's report.
    last_audio: usize,
    last_video: usize,
}

impl<F: Clone> EchoSession<F> {
    /// A session starting with the prompt at `now`.
    pub fn new(config: EchoConfig, now: Instant) -> Self {
        let mut session = EchoSession {
            config,
            phase: EchoPhase::Prompt,
            since: now,
            prompt_sent: 0,
            recording: Vec::new(),
            next: 0,
            video_started: false,
            outputs: VecDeque::new(),
            last_audio: 0,
            last_video: 0,
        };
        session
            .outputs
            .push_back(EchoOutput::Phase(EchoPhase::Prompt));
        session
    }

    /// The current phase.
    pub fn phase(&self) -> EchoPhase {
        self.phase
    }

    /// Frames of audio and video the last complete recording held.
    pub fn last_recording(&self) -> (usize, usize) {
        (self.last_audio, self.last_video)
    }

    /// Whether audio and video have arrived: in the recording under way, else in the last one.
    pub fn received(&self) -> (bool, bool) {
        let audio = self.recording.iter().any(|r| !r.video);
        let video = self.recording.iter().any(|r| r.video);
        (audio || self.last_audio > 0, video || self.last_video > 0)
    }

    /// A frame from the caller; kept while recording. Video is kept from its first keyframe on.
    pub fn handle_frame(&mut self, now: Instant, video: bool, keyframe: bool, frame: F) {
        self.handle_timeout(now);
        if self.phase != EchoPhase::Recording {
            return;
        }
        if video && !self.video_started {
            if !keyframe {
                return;
            }
            self.video_started = true;
        }
        self.recording.push(Recorded {
            at: now.saturating_duration_since(self.since),
            video,
            frame,
        });
    }

    /// When [`EchoSession::handle_timeout`] must next run.
    pub fn poll_timeout(&self) -> Instant {
        match self.phase {
            EchoPhase::Prompt => {
                self.since + FRAME * (self.prompt_sent.min(prompt_tone().len()) as u32)
            }
            EchoPhase::Recording => self.since + self.config.record,
            EchoPhase::Playback => match self.recording.get(self.next) {
                Some(frame) => self.since + frame.at,
                None => self.since + self.config.record,
            },
        }
    }

    /// Time passed: prompt frames fall due, recording ends, recorded frames fall due.
    pub fn handle_timeout(&mut self, now: Instant) {
        loop {
            match self.phase {
                EchoPhase::Prompt => {
                    let tone = prompt_tone();
                    while self.prompt_sent < tone.len()
                        && self.since + FRAME * self.prompt_sent as u32 <= now
                    {
                        self.outputs
                            .push_back(EchoOutput::Prompt(Arc::clone(&tone[self.prompt_sent])));
                        self.prompt_sent += 1;
                    }
                    let end = self.since + FRAME * tone.len() as u32;
                    if self.prompt_sent < tone.len() || now < end {
                        return;
                    }
                    self.enter(EchoPhase::Recording, end);
                }
                EchoPhase::Recording => {
                    let end = self.since + self.config.record;
                    if now < end {
                        return;
                    }
                    self.last_audio = self.recording.iter().filter(|r| !r.video).count();
                    self.last_video = self.recording.len() - self.last_audio;
                    self.enter(EchoPhase::Playback, end);
                    if self.last_video > 0 {
                        self.outputs.push_back(EchoOutput::VideoAvailable(true));
                    }
                }
                EchoPhase::Playback => {
                    while let Some(frame) = self.recording.get(self.next) {
                        if self.since + frame.at > now {
                            return;
                        }
                        self.outputs.push_back(EchoOutput::Play {
                            video: frame.video,
                            frame: frame.frame.clone(),
                        });
                        self.next += 1;
                    }
                    // Played it all; the playback lasts as long as the recording did.
                    let end = self.since + self.config.record;
                    if now < end {
                        return;
                    }
                    if self.last_video > 0 {
                        self.outputs.push_back(EchoOutput::VideoAvailable(false));
                    }
                    self.enter(EchoPhase::Prompt, end);
                }
            }
        }
    }

    fn enter(&mut self, phase: EchoPhase, at: Instant) {
        self.phase = phase;
        self.since = at;
        match phase {
            EchoPhase::Prompt => self.prompt_sent = 0,
            EchoPhase::Recording => {
                self.recording.clear();
                self.video_started = false;
            }
            EchoPhase::Playback => self.next = 0,
        }
        self.outputs.push_back(EchoOutput::Phase(phase));
    }

    /// The next thing to do.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<EchoOutput<F>> {
        self.outputs.pop_front()
    }
}

/// The prompt: a 600 ms, 880 Hz tone fading in and out, as 20 ms Opus frames (48 kHz mono),
/// encoded once.
pub fn prompt_tone() -> &'static [Arc<[u8]>] {
    static TONE: OnceLock<Vec<Arc<[u8]>>> = OnceLock::new();
    TONE.get_or_init(|| {
        const RATE: usize = 48_000;
        const SAMPLES: usize = RATE / 50;
        const FRAMES: usize = 30;
        let Ok(mut encoder) =
            opus::Encoder::new(RATE as u32, opus::Channels::Mono, opus::Application::Audio)
        else {
            return Vec::new();
        };
        let total = SAMPLES * FRAMES;
        (0..FRAMES)
            .filter_map(|f| {
                let pcm: Vec<i16> = (0..SAMPLES)
                    .map(|i| {
                        let n = f * SAMPLES + i;
                        let t = n as f32 / RATE as f32;
                        // A raised-cosine envelope avoids clicks at both ends.
                        let envelope = 0.5
                            - 0.5 * (2.0 * std::f32::consts::PI * n as f32 / total as f32).cos();
                        (0.3 * envelope * (2.0 * std::f32::consts::PI * 880.0 * t).sin() * 32767.0)
                            as i16
                    })
                    .collect();
                encoder.encode_vec(&pcm, 1500).ok().map(Arc::from)
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// Runs a session on virtual time, feeding it a caller's frames (audio every 20 ms, video
    /// every 100 ms, a keyframe every second) for `span`; returns outputs with their times.
    fn run(span: Duration) -> Vec<(Duration, EchoOutput<u32>)> {
        let start = Instant::now();
        let mut session = EchoSession::new(
            EchoConfig {
                record: Duration::from_secs(3),
            },
            start,
        );
        let mut out = Vec::new();
        let mut t = Duration::ZERO;
        let mut n = 0u32;
        while t < span {
            let now = start + t;
            if t.as_millis() % 20 == 0 {
                session.handle_frame(now, false, false, n);
                n += 1;
            }
            if t.as_millis() % 100 == 0 {
                let keyframe = t.as_millis() % 1000 == 500;
                session.handle_frame(now, true, keyframe, 100_000 + t.as_millis() as u32);
            }
            session.handle_timeout(now);
            while let Some(o) = session.poll_output() {
                out.push((t, o));
            }
            t += MS;
        }
        out
    }

    fn phases(out: &[(Duration, EchoOutput<u32>)]) -> Vec<(u128, EchoPhase)> {
        out.iter()
            .filter_map(|(t, o)| match o {
                EchoOutput::Phase(p) => Some((t.as_millis(), *p)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_prompt_is_a_real_opus_tone() {
        let tone = prompt_tone();
        assert_eq!(tone.len(), 30, "600 ms of 20 ms frames");
        let mut decoder = opus::Decoder::new(48_000, opus::Channels::Mono).unwrap();
        let mut pcm = vec![0i16; 960];
        let loudest = tone
            .iter()
            .map(|frame| {
                let n = decoder.decode(frame, &mut pcm, false).unwrap();
                pcm[..n].iter().map(|s| s.unsigned_abs()).max().unwrap()
            })
            .max()
            .unwrap();
        assert!(loudest > 5000, "audible: peak {loudest}");
    }

    #[test]
    fn prompt_then_record_then_play_back_then_again() {
        let out = run(Duration::from_millis(8000));
        assert_eq!(
            phases(&out),
            [
                (0, EchoPhase::Prompt),
                (600, EchoPhase::Recording),
                (3600, EchoPhase::Playback),
                (6600, EchoPhase::Prompt),
                (7200, EchoPhase::Recording),
            ]
        );
        let prompts = out
            .iter()
            .filter(|(t, o)| matches!(o, EchoOutput::Prompt(_)) && t.as_millis() < 600)
            .count();
        assert_eq!(prompts, 30);
    }

    #[test]
    fn playback_repeats_the_recording_with_its_timing() {
        let out = run(Duration::from_millis(7000));
        let played: Vec<(u128, u32)> = out
            .iter()
            .filter_map(|(t, o)| match o {
                EchoOutput::Play {
                    video: false,
                    frame,
                } => Some((t.as_millis(), *frame)),
                _ => None,
            })
            .collect();
        // Audio recorded from 600 ms to 3600 ms (frames 30..180) comes back 3 s later, in order
        // and on time.
        assert_eq!(played.len(), 150);
        assert_eq!(played[0], (3600, 30));
        assert_eq!(played[149], (6580, 179));
        assert!(played.windows(2).all(|w| w[1].0 - w[0].0 == 20));
    }

    #[test]
    fn video_is_kept_from_a_keyframe_and_announced_while_played() {
        let out = run(Duration::from_millis(7000));
        let video: Vec<(u128, u32)> = out
            .iter()
            .filter_map(|(t, o)| match o {
                EchoOutput::Play { video: true, frame } => Some((t.as_millis(), *frame)),
                _ => None,
            })
            .collect();
        // Recording starts at 600 ms; the first keyframe after that is at 1500 ms.
        assert_eq!(video[0], (4500, 101_500));
        let available: Vec<(u128, bool)> = out
            .iter()
            .filter_map(|(t, o)| match o {
                EchoOutput::VideoAvailable(on) => Some((t.as_millis(), *on)),
                _ => None,
            })
            .collect();
        assert_eq!(available, [(3600, true), (6600, false)]);
    }

    #[test]
    fn nothing_recorded_means_nothing_played_and_no_video() {
        let start = Instant::now();
        let mut session: EchoSession<u32> = EchoSession::new(EchoConfig::default(), start);
        session.handle_timeout(start + Duration::from_secs(25));
        let outputs: Vec<_> = std::iter::from_fn(|| session.poll_output()).collect();
        assert!(!outputs
            .iter()
            .any(|o| matches!(o, EchoOutput::Play { .. } | EchoOutput::VideoAvailable(_))));
        assert_eq!(session.last_recording(), (0, 0));
    }
}
