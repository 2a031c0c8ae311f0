//! The call hub: who is connected, which calls exist, who is in them and in what state. A sans-IO
//! state machine: it takes connections, requests, media and telephone events and time as
//! inputs and returns messages to endpoints and commands for the SFU and the telephone gateway
//! as outputs; it never touches a socket or a clock.
//!
//! ```
//! use rtcall_server::signaling::hub::{Hub, HubConfig, HubOutput};
//! use std::time::Instant;
//!
//! let mut hub = Hub::new(HubConfig::default(), Box::new(|_| true));
//! let now = Instant::now();
//! hub.handle_connect(now, 1, "8:acs:r_alice".into(), "Alice".into());
//! // ... handle_request / handle_media / handle_timeout, then drain:
//! while let Some(output) = hub.poll_output() {
//!     match output {
//!         HubOutput::Send { to, frame } => { /* serialize once, send to each endpoint */ }
//!         HubOutput::Media(command) => { /* hand to the SFU */ }
//!         HubOutput::Phone(command) => { /* hand to the telephone gateway */ }
//!     }
//! }
//! // ... and wake up at hub.poll_timeout() to call hub.handle_timeout(now).
//! ```
//!
//! States are derived, not stored: each participant keeps facts (ringing or joined, media
//! connected, on hold, …) and [`Hub`] recomputes the call state each endpoint sees and the
//! participant state the others see after every change, sending only real changes.

use crate::echo::{ECHO_BOT, ECHO_BOT_NAME};
use crate::phone::config::PhoneTarget;
use crate::phone::{PhoneCommand, PhoneEvent, PhoneProgress};
use rtcall_protocol::call::{
    CallId, CallState, EndReason, ParticipantId, ParticipantState, StreamId, StreamKind,
};
use rtcall_protocol::signal::{
    EchoReport, ErrorKind, Event, MediaLine, ParticipantInfo, RemovedParticipant, Reply, Request,
    RequestId, ServerFrame, StreamInfo, VideoSource, WireError,
};
use rtcall_protocol::CommunicationIdentifier;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

/// A connected endpoint (one WebSocket).
pub type EndpointId = u64;

/// Hub settings.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// How long invitees ring before the invitation ends with 487/10004.
    pub ring_timeout: Duration,
    /// Most participants (ringing or joined) in one call.
    pub max_participants: usize,
    /// Phone numbers the deployment owns (E.164): the caller ids calls to phones may show.
    /// Empty without a telephone gateway, and then phone numbers cannot be called.
    pub phone_numbers: Vec<String>,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            ring_timeout: Duration::from_secs(60),
            max_participants: 350,
            phone_numbers: Vec::new(),
        }
    }
}

/// One participant's media connection, as the SFU knows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LegKey {
    /// The call.
    pub call: CallId,
    /// The participant.
    pub participant: ParticipantId,
}

/// Where a reply to a media command goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyTo {
    /// The endpoint.
    pub endpoint: EndpointId,
    /// The request.
    pub request: RequestId,
}

/// What the hub asks of the SFU.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaCommand {
    /// Create the media connection of a participant who joined; the SFU answers with an offer.
    Open {
        /// Whose.
        leg: LegKey,
    },
    /// Start the echo test bot as participant `leg` of a call, answering `caller`.
    OpenEcho {
        /// The bot's leg.
        leg: LegKey,
        /// The caller it echoes.
        caller: ParticipantId,
    },
    /// Tear it down.
    Close {
        /// Whose.
        leg: LegKey,
    },
    /// Apply the client's SDP answer; the shell replies to `reply` with the outcome.
    Answer {
        /// Whose.
        leg: LegKey,
        /// Offer version answered.
        version: u32,
        /// The SDP.
        sdp: String,
        /// The request to answer; none for the gateway's own connections (phones).
        reply: Option<ReplyTo>,
    },
    /// Pause (or resume) forwarding to and from a participant.
    Hold {
        /// Whose.
        leg: LegKey,
        /// On hold or not.
        hold: bool,
    },
    /// Forward a participant's video source to a subscriber.
    Subscribe {
        /// The subscriber.
        leg: LegKey,
        /// The publishing participant.
        source: ParticipantId,
        /// Camera or screen.
        video: VideoSource,
        /// The stream, as the client knows it.
        stream_id: StreamId,
        /// Rendered height.
        max_height: u32,
    },
    /// Stop forwarding a stream to a subscriber.
    Unsubscribe {
        /// The subscriber.
        leg: LegKey,
        /// The stream.
        stream_id: StreamId,
    },
}

/// What the SFU tells the hub.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaEvent {
    /// A (re)negotiation: send this offer to the participant.
    Offer {
        /// Whose connection.
        leg: LegKey,
        /// Version, echoed by the answer.
        version: u32,
        /// SDP.
        sdp: String,
        /// What each m-line carries.
        media: Vec<MediaLine>,
    },
    /// ICE and DTLS are up.
    Connected {
        /// Whose.
        leg: LegKey,
    },
    /// The connection failed or never came up.
    Failed {
        /// Whose.
        leg: LegKey,
    },
    /// A participant started or stopped speaking.
    Speaking {
        /// Who.
        leg: LegKey,
        /// Speaking now.
        speaking: bool,
    },
    /// The echo bot started or stopped sending video (playing back a recording with video).
    EchoVideo {
        /// The bot's leg.
        leg: LegKey,
        /// Sending video now.
        available: bool,
    },
    /// How the echo test call is going, for its caller.
    EchoReport {
        /// The caller's leg.
        leg: LegKey,
        /// The report.
        report: EchoReport,
    },
    /// The call's ranked speakers changed.
    DominantSpeakers {
        /// The call.
        call: CallId,
        /// Most dominant first.
        ranked: Vec<ParticipantId>,
    },
}

/// What the hub produces.
#[derive(Debug, Clone, PartialEq)]
pub enum HubOutput {
    /// Send one frame to each of these endpoints (serialize it once).
    Send {
        /// Recipients.
        to: Vec<EndpointId>,
        /// The frame.
        frame: ServerFrame,
    },
    /// A command for the SFU.
    Media(MediaCommand),
    /// A command for the telephone gateway.
    Phone(PhoneCommand),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallKind {
    /// Started with `startCall`: ends when fewer than two remain.
    Adhoc,
    /// Joined with a group id: lasts while anyone is in it.
    Group,
}

#[derive(Debug)]
enum Phase {
    /// Invited: these endpoints of the identity are being alerted until `deadline`.
    Ringing {
        endpoints: Vec<EndpointId>,
        deadline: Instant,
    },
    /// In the call through this endpoint.
    Joined { endpoint: EndpointId },
    /// A bot of the service's own (the echo test), in the call with no endpoint.
    Bot,
    /// A phone, through the telephone gateway: dialled (`None`), then as far as it got.
    Phone { progress: Option<PhoneProgress> },
}

#[derive(Debug)]
struct Stream {
    id: StreamId,
    available: bool,
}

#[derive(Debug)]
struct Participant {
    id: ParticipantId,
    identity: String,
    display_name: String,
    phase: Phase,
    media_connected: bool,
    muted: bool,
    /// Speaking now, as the media side last said.
    speaking: bool,
    hold: bool,
    camera: Stream,
    screen: Stream,
    /// What the others were last told, and what the participant's own endpoint was.
    told_state: Option<ParticipantState>,
    told_call_state: Option<CallState>,
    /// Whether `muted`, `hold` or streams changed since the others were last told.
    dirty: bool,
}

impl Participant {
    fn endpoint(&self) -> Option<EndpointId> {
        match self.phase {
            Phase::Joined { endpoint } => Some(endpoint),
            Phase::Ringing { .. } | Phase::Bot | Phase::Phone { .. } => None,
        }
    }

    /// In the call (through an endpoint, or as a bot).
    fn is_joined(&self) -> bool {
        matches!(
            self.phase,
            Phase::Joined { .. }
                | Phase::Bot
                | Phase::Phone {
                    progress: Some(PhoneProgress::Connected)
                }
        )
    }

    fn stream(&self, source: VideoSource) -> &Stream {
        match source {
            VideoSource::Camera => &self.camera,
            VideoSource::Screen => &self.screen,
        }
    }

    fn info(&self) -> ParticipantInfo {
        ParticipantInfo {
            participant_id: self.id,
            identity: self.identity.clone(),
            display_name: self.display_name.clone(),
            state: self.told_state.unwrap_or(ParticipantState::Idle),
            muted: self.muted,
            speaking: self.speaking,
            streams: [
                (&self.camera, StreamKind::Video),
                (&self.screen, StreamKind::ScreenSharing),
            ]
            .into_iter()
            .map(|(s, kind)| StreamInfo {
                stream_id: s.id,
                kind,
                available: s.available,
            })
            .collect(),
        }
    }
}

#[derive(Debug)]
struct Call {
    kind: CallKind,
    participants: BTreeMap<ParticipantId, Participant>,
    next_participant: u32,
    next_stream: u32,
    /// Someone other than the caller accepted (always true for group calls).
    answered: bool,
    /// How invitations ended without an answer, to explain an unanswered call's end.
    unanswered: Vec<EndReason>,
    /// A phone that hung up on an answered call: its reason (0/560000) ends the call for the
    /// one left, as ACS reports it.
    phone_hung_up: Option<EndReason>,
}

impl Call {
    /// A call with no one in it yet. A group call counts as answered from the start: there is
    /// nobody to answer it.
    fn new(kind: CallKind) -> Self {
        Call {
            kind,
            participants: BTreeMap::new(),
            next_participant: 0,
            next_stream: 0,
            answered: kind == CallKind::Group,
            unanswered: Vec::new(),
            phone_hung_up: None,
        }
    }

    fn joined_endpoints(&self) -> Vec<EndpointId> {
        self.participants
            .values()
            .filter_map(Participant::endpoint)
            .collect()
    }

    fn joined_count(&self) -> usize {
        self.participants.values().filter(|p| p.is_joined()).count()
    }

    /// Invitees not yet in the call, whether or not their endpoints ring yet.
    fn invited_count(&self) -> usize {
        self.participants.len() - self.joined_count()
    }

    /// Invitees whose endpoints or phones are ringing.
    fn alerting_count(&self) -> usize {
        self.participants
            .values()
            .filter(|p| match &p.phase {
                Phase::Ringing { endpoints, .. } => !endpoints.is_empty(),
                Phase::Phone { progress } => matches!(
                    progress,
                    Some(PhoneProgress::Ringing | PhoneProgress::EarlyMedia)
                ),
                _ => false,
            })
            .count()
    }

    /// A phone plays audio before answering (the caller should hear it).
    fn early_media(&self) -> bool {
        self.participants.values().any(|p| {
            matches!(
                p.phase,
                Phase::Phone {
                    progress: Some(PhoneProgress::EarlyMedia)
                }
            )
        })
    }

    /// The call state a joined participant's endpoint should see now.
    fn call_state_of(&self, p: &Participant) -> CallState {
        if p.hold {
            return CallState::LocalHold;
        }
        let others_joined: Vec<&Participant> = self
            .participants
            .values()
            .filter(|o| o.id != p.id && o.endpoint().is_some())
            .collect();
        if !p.media_connected || !self.answered {
            return if self.early_media() && !self.answered {
                CallState::EarlyMedia
            } else if self.alerting_count() > 0 && !self.answered {
                CallState::Ringing
            } else {
                CallState::Connecting
            };
        }
        if others_joined.len() == 1 && others_joined[0].hold {
            return CallState::RemoteHold;
        }
        CallState::Connected
    }

    /// The state the others should see for a participant now.
    fn participant_state_of(p: &Participant) -> ParticipantState {
        match p.phase {
            Phase::Ringing { ref endpoints, .. } if endpoints.is_empty() => {
                ParticipantState::Connecting
            }
            Phase::Ringing { .. } => ParticipantState::Ringing,
            Phase::Bot => ParticipantState::Connected,
            Phase::Phone { progress } => match progress {
                None => ParticipantState::Connecting,
                Some(PhoneProgress::Ringing) => ParticipantState::Ringing,
                Some(PhoneProgress::EarlyMedia) => ParticipantState::EarlyMedia,
                Some(PhoneProgress::Connected) => ParticipantState::Connected,
            },
            Phase::Joined { .. } if p.hold => ParticipantState::Hold,
            Phase::Joined { .. } if p.media_connected => ParticipantState::Connected,
            Phase::Joined { .. } => ParticipantState::Connecting,
        }
    }
}

#[derive(Debug)]
struct Endpoint {
    identity: String,
    display_name: String,
    /// Calls this endpoint is in, with its participant id.
    legs: HashMap<CallId, ParticipantId>,
    /// Calls ringing here.
    ringing: HashSet<CallId>,
}

/// Does an identity exist? (The identity service's answer; an in-memory lookup.)
pub type UserDirectory = Box<dyn Fn(&str) -> bool + Send>;

/// The call hub. See the module docs.
pub struct Hub {
    config: HubConfig,
    users: UserDirectory,
    endpoints: HashMap<EndpointId, Endpoint>,
    by_identity: HashMap<String, Vec<EndpointId>>,
    calls: HashMap<CallId, Call>,
    /// Ring deadlines, for `poll_timeout`.
    deadlines: BTreeSet<(Instant, CallId, ParticipantId)>,
    outputs: VecDeque<HubOutput>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("endpoints", &self.endpoints.len())
            .field("calls", &self.calls.len())
            .finish()
    }
}

type Outcome = Result<(), WireError>;

/// The number of a phone participant's raw id (`4:+14255550123` → `+14255550123`).
fn phone_number(identity: &str) -> Option<&str> {
    identity.strip_prefix("4:")
}

fn error(kind: ErrorKind, message: impl Into<String>) -> WireError {
    WireError::new(kind, message)
}

/// Call and group ids: 1 to 64 characters of `[A-Za-z0-9._:-]`.
fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
}

impl Hub {
    /// A hub with no endpoints and no calls. `users` says whether an identity exists.
    pub fn new(config: HubConfig, users: UserDirectory) -> Self {
        Hub {
            config,
            users,
            endpoints: HashMap::new(),
            by_identity: HashMap::new(),
            calls: HashMap::new(),
            deadlines: BTreeSet::new(),
            outputs: VecDeque::new(),
        }
    }

    /// The next output, if any.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<HubOutput> {
        self.outputs.pop_front()
    }

    /// When [`Hub::handle_timeout`] must next be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.first().map(|(at, _, _)| *at)
    }

    /// Number of calls in progress.
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// A new authenticated endpoint.
    pub fn handle_connect(
        &mut self,
        _now: Instant,
        endpoint: EndpointId,
        identity: String,
        display_name: String,
    ) {
        self.by_identity
            .entry(identity.clone())
            .or_default()
            .push(endpoint);
        self.endpoints.insert(
            endpoint,
            Endpoint {
                identity,
                display_name,
                legs: HashMap::new(),
                ringing: HashSet::new(),
            },
        );
    }

    /// An endpoint went away (closed, or silent past the heartbeat): it leaves its calls with
    /// 0/4521 and stops ringing.
    pub fn handle_disconnect(&mut self, _now: Instant, endpoint: EndpointId) {
        let Some(ep) = self.endpoints.remove(&endpoint) else {
            return;
        };
        if let Some(list) = self.by_identity.get_mut(&ep.identity) {
            list.retain(|e| *e != endpoint);
            if list.is_empty() {
                self.by_identity.remove(&ep.identity);
            }
        }
        for (call_id, pid) in ep.legs {
            self.leave(
                &call_id,
                pid,
                EndReason::LEFT_ABRUPTLY,
                EndReason::LEFT_ABRUPTLY,
            );
        }
        for call_id in ep.ringing {
            self.stop_ringing_endpoint(&call_id, endpoint);
        }
    }

    /// A request from an authenticated endpoint. Every request gets exactly one reply (here, or
    /// from the shell for [`MediaCommand::Answer`]).
    pub fn handle_request(
        &mut self,
        now: Instant,
        endpoint: EndpointId,
        id: RequestId,
        request: Request,
    ) {
        if !self.endpoints.contains_key(&endpoint) {
            return;
        }
        let outcome = match request {
            Request::Hello { .. } => Err(error(
                ErrorKind::NotAuthenticated,
                "the connection is already authenticated",
            )),
            Request::Ping => {
                self.reply(endpoint, id, Ok(Reply::Pong));
                return;
            }
            Request::StartCall {
                call_id,
                targets,
                muted,
                alternate_caller_id,
            } => self.start_call(now, endpoint, call_id, targets, muted, alternate_caller_id),
            Request::JoinGroup { group_id, muted } => self.join_group(endpoint, group_id, muted),
            Request::Accept { call_id, muted } => self.accept(endpoint, &call_id, muted),
            Request::Reject { call_id } => self.reject(endpoint, &call_id),
            Request::HangUp {
                call_id,
                for_everyone,
            } => self.hang_up(endpoint, &call_id, for_everyone),
            Request::AddParticipant {
                call_id,
                target,
                alternate_caller_id,
            } => self.add_participant(now, endpoint, &call_id, target, alternate_caller_id),
            Request::RemoveParticipant { call_id, target } => {
                self.remove_participant(endpoint, &call_id, &target)
            }
            Request::SendDtmf { call_id, tone } => self.send_dtmf(endpoint, &call_id, &tone),
            Request::SetMuted { call_id, muted } => {
                self.update_participant(endpoint, &call_id, |p| p.muted = muted)
            }
            Request::SetHold { call_id, hold } => self.set_hold(endpoint, &call_id, hold),
            Request::SetVideo {
                call_id,
                source,
                on,
            } => self.update_participant(endpoint, &call_id, |p| match source {
                VideoSource::Camera => p.camera.available = on,
                VideoSource::Screen => p.screen.available = on,
            }),
            Request::Subscribe {
                call_id,
                stream_id,
                max_height,
            } => self.subscribe(endpoint, &call_id, stream_id, Some(max_height)),
            Request::Unsubscribe { call_id, stream_id } => {
                self.subscribe(endpoint, &call_id, stream_id, None)
            }
            Request::SdpAnswer {
                call_id,
                version,
                sdp,
            } => match self.leg_of(endpoint, &call_id) {
                Ok(leg) => {
                    // The shell applies it to the SFU and replies with the outcome.
                    self.media(MediaCommand::Answer {
                        leg,
                        version,
                        sdp,
                        reply: Some(ReplyTo {
                            endpoint,
                            request: id,
                        }),
                    });
                    return;
                }
                Err(e) => Err(e),
            },
        };
        self.reply(endpoint, id, outcome.map(|()| Reply::Done));
    }

    /// An event from the SFU.
    pub fn handle_media(&mut self, _now: Instant, event: MediaEvent) {
        match event {
            MediaEvent::Offer {
                leg,
                version,
                sdp,
                media,
            } => {
                let Some(p) = self.participant(&leg) else {
                    return;
                };
                if let Some(endpoint) = p.endpoint() {
                    self.send(
                        vec![endpoint],
                        Event::SdpOffer {
                            call_id: leg.call,
                            version,
                            sdp,
                            media,
                        },
                    );
                } else if matches!(p.phase, Phase::Phone { .. }) {
                    self.outputs
                        .push_back(HubOutput::Phone(PhoneCommand::Offer {
                            leg,
                            version,
                            sdp,
                            media,
                        }));
                }
            }
            MediaEvent::Connected { leg } => {
                if let Some(p) = self.participant_mut(&leg) {
                    p.media_connected = true;
                    self.sync(&leg.call);
                }
            }
            MediaEvent::Failed { leg } => {
                if self.participant(&leg).is_some() {
                    self.leave(
                        &leg.call,
                        leg.participant,
                        EndReason::MEDIA_FAILED,
                        EndReason::MEDIA_FAILED,
                    );
                }
            }
            MediaEvent::Speaking { leg, speaking } => {
                if let Some(p) = self.participant_mut(&leg) {
                    p.speaking = speaking;
                }
                if let Some(call) = self.calls.get(&leg.call) {
                    let to = call.joined_endpoints();
                    self.send(
                        to,
                        Event::Speaking {
                            call_id: leg.call,
                            participant_id: leg.participant,
                            speaking,
                        },
                    );
                }
            }
            MediaEvent::EchoVideo { leg, available } => {
                if let Some(p) = self.participant_mut(&leg) {
                    p.camera.available = available;
                    p.dirty = true;
                    self.sync(&leg.call);
                }
            }
            MediaEvent::EchoReport { leg, report } => {
                if let Some(endpoint) = self.participant(&leg).and_then(Participant::endpoint) {
                    self.send(
                        vec![endpoint],
                        Event::EchoReport {
                            call_id: leg.call,
                            report,
                        },
                    );
                }
            }
            MediaEvent::DominantSpeakers { call, ranked } => {
                if let Some(c) = self.calls.get(&call) {
                    let to = c.joined_endpoints();
                    self.send(
                        to,
                        Event::DominantSpeakers {
                            call_id: call,
                            ranked,
                        },
                    );
                }
            }
        }
    }

    /// Time passed: ring deadlines that fell due end their invitations with 487/10004.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((at, call_id, pid)) = self.deadlines.first().cloned() {
            if at > now {
                break;
            }
            self.deadlines.pop_first();
            self.leave(
                &call_id,
                pid,
                EndReason::NOT_ANSWERED,
                EndReason::NOT_ANSWERED,
            );
        }
    }

    // ---- requests ----

    fn start_call(
        &mut self,
        now: Instant,
        endpoint: EndpointId,
        call_id: CallId,
        targets: Vec<String>,
        muted: bool,
        caller_id: Option<String>,
    ) -> Outcome {
        if !valid_id(&call_id.0) {
            return Err(error(
                ErrorKind::InvalidArgument,
                "callId must be 1-64 characters of letters, digits and ._:-",
            ));
        }
        if self.calls.contains_key(&call_id) {
            return Err(error(ErrorKind::CallExists, "a call with this id exists"));
        }
        if targets.is_empty() {
            return Err(error(ErrorKind::InvalidArgument, "no one to call"));
        }
        if targets.len() + 1 > self.config.max_participants {
            return Err(self.call_full());
        }
        let targets = targets
            .iter()
            .map(|t| Self::parse_target(t))
            .collect::<Result<Vec<_>, _>>()?;
        if targets.iter().any(|t| phone_number(t).is_some()) {
            self.check_caller_id(caller_id.as_deref())?;
        }
        let echo = targets.iter().any(|t| t == ECHO_BOT);
        if echo && targets.len() > 1 {
            return Err(error(
                ErrorKind::InvalidArgument,
                "the echo test service takes 1:1 calls only",
            ));
        }
        self.calls
            .insert(call_id.clone(), Call::new(CallKind::Adhoc));
        let caller = self.join(endpoint, &call_id, muted);
        self.sync(&call_id);
        if echo {
            self.start_echo(&call_id, caller);
            return Ok(());
        }
        let unreachable: Vec<_> = targets
            .into_iter()
            .filter_map(|target| match phone_number(&target) {
                Some(_) => {
                    let caller_id = caller_id.clone().expect("checked with the targets");
                    self.dial(&call_id, target, caller_id);
                    None
                }
                None => self.invite(now, &call_id, target, Some(endpoint)),
            })
            .collect();
        for (pid, reason) in unreachable {
            self.leave(&call_id, pid, reason, reason);
        }
        self.sync(&call_id);
        Ok(())
    }

    fn join_group(&mut self, endpoint: EndpointId, group_id: String, muted: bool) -> Outcome {
        if !valid_id(&group_id) {
            return Err(error(
                ErrorKind::InvalidArgument,
                "groupId must be 1-64 characters of letters, digits and ._:-",
            ));
        }
        let call_id = CallId(group_id);
        match self.calls.get(&call_id) {
            Some(call) if call.kind != CallKind::Group => {
                return Err(error(ErrorKind::CallExists, "a call with this id exists"));
            }
            Some(call) if call.participants.len() >= self.config.max_participants => {
                return Err(self.call_full());
            }
            Some(_) if self.endpoints[&endpoint].legs.contains_key(&call_id) => {
                return Err(error(ErrorKind::WrongState, "already in this call"));
            }
            Some(_) => {}
            None => {
                self.calls
                    .insert(call_id.clone(), Call::new(CallKind::Group));
            }
        }
        self.join(endpoint, &call_id, muted);
        self.sync(&call_id);
        Ok(())
    }

    fn accept(&mut self, endpoint: EndpointId, call_id: &CallId, muted: bool) -> Outcome {
        let pid = self.ringing_participant(endpoint, call_id)?;
        let display_name = self.endpoints[&endpoint].display_name.clone();
        let call = self.calls.get_mut(call_id).expect("ringing call exists");
        let participant = call
            .participants
            .get_mut(&pid)
            .expect("ringing participant");
        let Phase::Ringing {
            endpoints,
            deadline,
        } = std::mem::replace(&mut participant.phase, Phase::Joined { endpoint })
        else {
            unreachable!("ringing_participant returns ringing participants");
        };
        participant.display_name = display_name;
        participant.muted = muted;
        participant.dirty = true;
        call.answered = true;
        self.deadlines.remove(&(deadline, call_id.clone(), pid));
        let others: Vec<EndpointId> = endpoints.into_iter().filter(|e| *e != endpoint).collect();
        for e in &others {
            if let Some(ep) = self.endpoints.get_mut(e) {
                ep.ringing.remove(call_id);
            }
        }
        self.send(
            others,
            Event::IncomingCallEnded {
                call_id: call_id.clone(),
                reason: EndReason::ANSWERED_ELSEWHERE,
            },
        );
        let ep = self.endpoints.get_mut(&endpoint).expect("endpoint exists");
        ep.ringing.remove(call_id);
        ep.legs.insert(call_id.clone(), pid);
        self.snapshot(endpoint, call_id, pid);
        self.media(MediaCommand::Open {
            leg: LegKey {
                call: call_id.clone(),
                participant: pid,
            },
        });
        // A phone that called is answered now (the gateway ignores phones it called itself).
        self.tell_phones(call_id, |_| true, |leg| PhoneCommand::Answer { leg });
        self.sync(call_id);
        Ok(())
    }

    fn reject(&mut self, endpoint: EndpointId, call_id: &CallId) -> Outcome {
        let pid = self.ringing_participant(endpoint, call_id)?;
        self.leave(call_id, pid, EndReason::DECLINED, EndReason::DECLINED);
        Ok(())
    }

    fn hang_up(&mut self, endpoint: EndpointId, call_id: &CallId, for_everyone: bool) -> Outcome {
        let leg = self.leg_of(endpoint, call_id)?;
        if for_everyone {
            let everyone: Vec<ParticipantId> =
                self.calls[call_id].participants.keys().copied().collect();
            for pid in everyone {
                let reason = if pid == leg.participant {
                    EndReason::HUNG_UP
                } else {
                    EndReason::ENDED_FOR_EVERYONE
                };
                self.leave(call_id, pid, reason, EndReason::ENDED_FOR_EVERYONE);
            }
        } else {
            self.leave(
                call_id,
                leg.participant,
                EndReason::HUNG_UP,
                EndReason::HUNG_UP,
            );
        }
        Ok(())
    }

    fn add_participant(
        &mut self,
        now: Instant,
        endpoint: EndpointId,
        call_id: &CallId,
        target: String,
        caller_id: Option<String>,
    ) -> Outcome {
        self.leg_of(endpoint, call_id)?;
        let target = Self::parse_target(&target)?;
        let echo_call = self.calls[call_id]
            .participants
            .values()
            .any(|p| matches!(p.phase, Phase::Bot));
        if target == ECHO_BOT || echo_call {
            return Err(error(
                ErrorKind::InvalidArgument,
                "the echo test service takes 1:1 calls only",
            ));
        }
        if self.calls[call_id].participants.len() >= self.config.max_participants {
            return Err(self.call_full());
        }
        if phone_number(&target).is_some() {
            let caller_id = self.check_caller_id(caller_id.as_deref())?.to_owned();
            self.dial(call_id, target, caller_id);
            self.sync(call_id);
            return Ok(());
        }
        if let Some((pid, reason)) = self.invite(now, call_id, target, None) {
            self.leave(call_id, pid, reason, reason);
        }
        self.sync(call_id);
        Ok(())
    }

    fn remove_participant(
        &mut self,
        endpoint: EndpointId,
        call_id: &CallId,
        target: &str,
    ) -> Outcome {
        let leg = self.leg_of(endpoint, call_id)?;
        let target = Self::parse_target(target)?;
        let victims: Vec<ParticipantId> = self.calls[call_id]
            .participants
            .values()
            .filter(|p| p.identity == target && p.id != leg.participant)
            .map(|p| p.id)
            .collect();
        if victims.is_empty() {
            return Err(error(
                ErrorKind::ParticipantNotFound,
                "no such participant in the call",
            ));
        }
        for pid in victims {
            self.leave(
                call_id,
                pid,
                EndReason::REMOVED_BY_OTHER,
                EndReason::REMOVED,
            );
        }
        Ok(())
    }

    fn set_hold(&mut self, endpoint: EndpointId, call_id: &CallId, hold: bool) -> Outcome {
        let leg = self.leg_of(endpoint, call_id)?;
        self.update_participant(endpoint, call_id, |p| p.hold = hold)?;
        self.media(MediaCommand::Hold { leg, hold });
        Ok(())
    }

    fn subscribe(
        &mut self,
        endpoint: EndpointId,
        call_id: &CallId,
        stream_id: StreamId,
        max_height: Option<u32>,
    ) -> Outcome {
        let leg = self.leg_of(endpoint, call_id)?;
        let Some(command) = max_height.map_or(
            Some(MediaCommand::Unsubscribe {
                leg: leg.clone(),
                stream_id,
            }),
            |max_height| {
                self.calls[call_id]
                    .participants
                    .values()
                    .filter(|p| p.id != leg.participant)
                    .find_map(|p| {
                        [VideoSource::Camera, VideoSource::Screen]
                            .into_iter()
                            .find(|s| p.stream(*s).id == stream_id)
                            .map(|video| MediaCommand::Subscribe {
                                leg: leg.clone(),
                                source: p.id,
                                video,
                                stream_id,
                                max_height,
                            })
                    })
            },
        ) else {
            return Err(error(
                ErrorKind::InvalidArgument,
                "no such remote stream in the call",
            ));
        };
        self.media(command);
        Ok(())
    }

    fn update_participant(
        &mut self,
        endpoint: EndpointId,
        call_id: &CallId,
        change: impl FnOnce(&mut Participant),
    ) -> Outcome {
        let leg = self.leg_of(endpoint, call_id)?;
        let p = self
            .participant_mut(&leg)
            .expect("leg_of returns existing legs");
        change(p);
        p.dirty = true;
        self.sync(call_id);
        Ok(())
    }

    // ---- building blocks ----

    fn call_full(&self) -> WireError {
        error(
            ErrorKind::CallFull,
            format!(
                "the call has the maximum of {} participants",
                self.config.max_participants
            ),
        )
    }

    /// A target raw id, validated: `{communicationUserId}`-style raw ids only for now.
    fn parse_target(raw: &str) -> Result<String, WireError> {
        if raw.is_empty() || raw.len() > 256 {
            return Err(error(ErrorKind::InvalidArgument, "invalid participant id"));
        }
        match CommunicationIdentifier::from_raw_id(raw) {
            CommunicationIdentifier::CommunicationUser { id } => Ok(id),
            CommunicationIdentifier::Unknown { id } if id.starts_with("8:") => Ok(id),
            CommunicationIdentifier::PhoneNumber { phone_number, .. } => {
                if !crate::phone::config::is_e164(&phone_number) {
                    return Err(error(
                        ErrorKind::InvalidArgument,
                        format!(
                            "{phone_number} is not an E.164 phone number (+ and 8 to 15 digits)"
                        ),
                    ));
                }
                Ok(format!("4:{phone_number}"))
            }
            other => Err(error(
                ErrorKind::InvalidArgument,
                format!("cannot call a {} identifier here", other.kind()),
            )),
        }
    }

    fn leg_of(&self, endpoint: EndpointId, call_id: &CallId) -> Result<LegKey, WireError> {
        self.endpoints
            .get(&endpoint)
            .and_then(|ep| ep.legs.get(call_id))
            .map(|pid| LegKey {
                call: call_id.clone(),
                participant: *pid,
            })
            .ok_or_else(|| error(ErrorKind::CallNotFound, "not in that call"))
    }

    fn ringing_participant(
        &self,
        endpoint: EndpointId,
        call_id: &CallId,
    ) -> Result<ParticipantId, WireError> {
        let ep = &self.endpoints[&endpoint];
        if !ep.ringing.contains(call_id) {
            return Err(error(
                ErrorKind::CallNotFound,
                "no such call is ringing here",
            ));
        }
        self.calls
            .get(call_id)
            .and_then(|call| {
                call.participants.values().find(|p| {
                    matches!(&p.phase, Phase::Ringing { endpoints, .. } if endpoints.contains(&endpoint))
                })
            })
            .map(|p| p.id)
            .ok_or_else(|| error(ErrorKind::WrongState, "the call no longer rings here"))
    }

    fn participant(&self, leg: &LegKey) -> Option<&Participant> {
        self.calls
            .get(&leg.call)?
            .participants
            .get(&leg.participant)
    }

    fn participant_mut(&mut self, leg: &LegKey) -> Option<&mut Participant> {
        self.calls
            .get_mut(&leg.call)?
            .participants
            .get_mut(&leg.participant)
    }

    fn new_participant(
        call: &mut Call,
        identity: String,
        display_name: String,
        phase: Phase,
    ) -> ParticipantId {
        let id = ParticipantId(call.next_participant);
        call.next_participant += 1;
        let camera = StreamId(call.next_stream);
        let screen = StreamId(call.next_stream + 1);
        call.next_stream += 2;
        call.participants.insert(
            id,
            Participant {
                id,
                identity,
                display_name,
                phase,
                media_connected: false,
                muted: false,
                speaking: false,
                hold: false,
                camera: Stream {
                    id: camera,
                    available: false,
                },
                screen: Stream {
                    id: screen,
                    available: false,
                },
                told_state: None,
                told_call_state: None,
                dirty: true,
            },
        );
        id
    }

    /// A key for every phone answered in the caller's call.
    fn send_dtmf(&mut self, endpoint: EndpointId, call_id: &CallId, tone: &str) -> Outcome {
        self.leg_of(endpoint, call_id)?;
        let code = rtcall_sip::dtmf::event_code(tone).ok_or_else(|| {
            error(
                ErrorKind::InvalidArgument,
                format!("{tone:?} is not a DTMF tone (Num0-Num9, Star, Pound, A-D, Flash)"),
            )
        })?;
        let answered = |progress: Option<PhoneProgress>| {
            matches!(
                progress,
                Some(PhoneProgress::Connected | PhoneProgress::EarlyMedia)
            )
        };
        if self.tell_phones(call_id, answered, |leg| PhoneCommand::SendDtmf {
            leg,
            code,
        }) == 0
        {
            return Err(error(
                ErrorKind::WrongState,
                "no phone is connected in this call to send a tone to",
            ));
        }
        Ok(())
    }

    /// Gives `command` to the gateway for each phone in the call whose progress `which`
    /// accepts; returns how many.
    fn tell_phones(
        &mut self,
        call_id: &CallId,
        which: impl Fn(Option<PhoneProgress>) -> bool,
        command: impl Fn(LegKey) -> PhoneCommand,
    ) -> usize {
        let phones: Vec<ParticipantId> = self.calls[call_id]
            .participants
            .values()
            .filter(|p| matches!(p.phase, Phase::Phone { progress } if which(progress)))
            .map(|p| p.id)
            .collect();
        for &participant in &phones {
            let leg = LegKey {
                call: call_id.clone(),
                participant,
            };
            self.outputs.push_back(HubOutput::Phone(command(leg)));
        }
        phones.len()
    }

    /// The caller id a call to a phone shows: required, and a number of the deployment's.
    fn check_caller_id<'a>(&self, caller_id: Option<&'a str>) -> Result<&'a str, WireError> {
        if self.config.phone_numbers.is_empty() {
            return Err(error(
                ErrorKind::PhoneUnavailable,
                "this deployment has no telephone trunk: phone numbers cannot be called",
            ));
        }
        let caller_id = caller_id.ok_or_else(|| {
            error(
                ErrorKind::InvalidArgument,
                "calling a phone number needs alternateCallerId, a number of this deployment",
            )
        })?;
        if !self.config.phone_numbers.iter().any(|n| n == caller_id) {
            return Err(error(
                ErrorKind::InvalidArgument,
                format!("alternateCallerId {caller_id} is not a number of this deployment"),
            ));
        }
        Ok(caller_id)
    }

    /// Adds a phone participant (`identity` is its `4:+…` raw id) and has the gateway dial it.
    fn dial(&mut self, call_id: &CallId, identity: String, caller_id: String) {
        let number = phone_number(&identity).unwrap_or_default().to_owned();
        let call = self.calls.get_mut(call_id).expect("call exists");
        let pid = Self::new_participant(
            call,
            identity,
            number.clone(),
            Phase::Phone { progress: None },
        );
        self.outputs.push_back(HubOutput::Phone(PhoneCommand::Dial {
            leg: LegKey {
                call: call_id.clone(),
                participant: pid,
            },
            number,
            caller_id,
        }));
    }

    /// The telephone gateway says how a phone participant's call goes.
    pub fn handle_phone(&mut self, now: Instant, event: PhoneEvent) {
        match event {
            PhoneEvent::Progress { leg, progress } => {
                let Some(call) = self.calls.get_mut(&leg.call) else {
                    return;
                };
                let Some(p) = call.participants.get_mut(&leg.participant) else {
                    return;
                };
                p.phase = Phase::Phone {
                    progress: Some(progress),
                };
                if progress == PhoneProgress::Connected {
                    p.media_connected = true;
                    call.answered = true;
                }
                p.dirty = true;
                if progress != PhoneProgress::Ringing {
                    // The phone's audio (early or answered) joins the call's media through the
                    // gateway's own connection to the SFU; opening twice is a no-op.
                    self.media(MediaCommand::Open { leg: leg.clone() });
                }
                self.sync(&leg.call);
            }
            PhoneEvent::Incoming {
                leg,
                caller,
                target,
            } => self.phone_calls_in(now, leg, caller, target),
            PhoneEvent::Dtmf { leg, code } => {
                let Some(tone) = rtcall_sip::dtmf::tone_name(code) else {
                    return;
                };
                let Some(call) = self.calls.get(&leg.call) else {
                    return;
                };
                let to = call.joined_endpoints();
                self.send(
                    to,
                    Event::DtmfReceived {
                        call_id: leg.call,
                        participant_id: leg.participant,
                        tone: tone.into(),
                    },
                );
            }
            PhoneEvent::Answer { leg, version, sdp } => {
                self.media(MediaCommand::Answer {
                    leg,
                    version,
                    sdp,
                    reply: None,
                });
            }
            PhoneEvent::Ended { leg, reason } => {
                let answered = self.participant(&leg).is_some_and(|p| p.is_joined());
                if let Some(call) = self.calls.get_mut(&leg.call).filter(|_| answered) {
                    call.phone_hung_up = Some(reason);
                }
                self.leave(&leg.call, leg.participant, reason, reason);
            }
        }
    }

    /// A phone calls: a new call ringing the user the number goes to, or the group call it
    /// joins (answered at once). The phone is in the call from the start, as any caller is.
    fn phone_calls_in(
        &mut self,
        now: Instant,
        proposed: LegKey,
        caller: String,
        target: PhoneTarget,
    ) {
        let identity = format!("4:{caller}");
        let (call_id, kind) = match &target {
            PhoneTarget::User(_) => (proposed.call.clone(), CallKind::Adhoc),
            PhoneTarget::Group(group) => (CallId(group.clone()), CallKind::Group),
        };
        let full = self.calls.get(&call_id).is_some_and(|c| {
            c.kind != kind || c.participants.len() >= self.config.max_participants
        });
        if full || (kind == CallKind::Adhoc && self.calls.contains_key(&call_id)) {
            self.outputs
                .push_back(HubOutput::Phone(PhoneCommand::HangUp { leg: proposed }));
            return;
        }
        let call = self
            .calls
            .entry(call_id.clone())
            .or_insert_with(|| Call::new(kind));
        let pid = Self::new_participant(
            call,
            identity,
            caller,
            Phase::Phone {
                progress: Some(PhoneProgress::Connected),
            },
        );
        let leg = LegKey {
            call: call_id.clone(),
            participant: pid,
        };
        if leg != proposed {
            self.outputs
                .push_back(HubOutput::Phone(PhoneCommand::Rebind {
                    from: proposed,
                    to: leg.clone(),
                }));
        }
        match target {
            PhoneTarget::User(user) => {
                if let Some((invitee, reason)) = self.invite(now, &call_id, user, None) {
                    self.leave(&call_id, invitee, reason, reason);
                }
            }
            PhoneTarget::Group(_) => {
                self.outputs
                    .push_back(HubOutput::Phone(PhoneCommand::Answer { leg }));
            }
        }
        self.sync(&call_id);
    }

    /// The echo bot answers the call at once.
    fn start_echo(&mut self, call_id: &CallId, caller: ParticipantId) {
        let call = self.calls.get_mut(call_id).expect("call exists");
        call.answered = true;
        let bot = Self::new_participant(call, ECHO_BOT.into(), ECHO_BOT_NAME.into(), Phase::Bot);
        call.participants
            .get_mut(&bot)
            .expect("just added")
            .media_connected = true;
        self.media(MediaCommand::OpenEcho {
            leg: LegKey {
                call: call_id.clone(),
                participant: bot,
            },
            caller,
        });
        self.sync(call_id);
    }

    /// Adds `endpoint` to the call as a joined participant: it gets the roster snapshot, and
    /// the SFU opens its media connection. Returns its participant id.
    fn join(&mut self, endpoint: EndpointId, call_id: &CallId, muted: bool) -> ParticipantId {
        let ep = &self.endpoints[&endpoint];
        let (identity, display_name) = (ep.identity.clone(), ep.display_name.clone());
        let call = self.calls.get_mut(call_id).expect("call exists");
        let pid = Self::new_participant(call, identity, display_name, Phase::Joined { endpoint });
        call.participants
            .get_mut(&pid)
            .expect("just inserted")
            .muted = muted;
        self.endpoints
            .get_mut(&endpoint)
            .expect("endpoint exists")
            .legs
            .insert(call_id.clone(), pid);
        self.snapshot(endpoint, call_id, pid);
        self.media(MediaCommand::Open {
            leg: LegKey {
                call: call_id.clone(),
                participant: pid,
            },
        });
        pid
    }

    /// Invites `identity` into the call: it appears as Connecting, then each of its endpoints
    /// (but `except`, the inviting one) rings. Returns why it cannot be reached, if so; the
    /// caller removes it once every invitation of the request is out, so that one unreachable
    /// target does not end a call others are still being invited to.
    fn invite(
        &mut self,
        now: Instant,
        call_id: &CallId,
        identity: String,
        except: Option<EndpointId>,
    ) -> Option<(ParticipantId, EndReason)> {
        let endpoints: Vec<EndpointId> = self
            .by_identity
            .get(&identity)
            .map(|list| {
                list.iter()
                    .copied()
                    .filter(|e| Some(*e) != except)
                    .collect()
            })
            .unwrap_or_default();
        let unreachable = if !(self.users)(&identity) {
            Some(EndReason::UNKNOWN_USER)
        } else if endpoints.is_empty() {
            Some(EndReason::NO_ENDPOINT)
        } else {
            None
        };
        let deadline = now + self.config.ring_timeout;
        let call = self.calls.get_mut(call_id).expect("call exists");
        let pid = Self::new_participant(
            call,
            identity,
            String::new(),
            Phase::Ringing {
                endpoints: Vec::new(),
                deadline,
            },
        );
        self.sync(call_id);
        if let Some(reason) = unreachable {
            return Some((pid, reason));
        }
        let participants = &self.calls[call_id].participants;
        let (caller, caller_display_name) = participants
            .values()
            .find_map(|p| {
                p.endpoint()
                    .and_then(|e| self.endpoints.get(&e))
                    .map(|ep| (ep.identity.clone(), ep.display_name.clone()))
            })
            // A call a phone made: the phone, its number as its name.
            .or_else(|| {
                participants
                    .values()
                    .find(|p| matches!(p.phase, Phase::Phone { .. }))
                    .map(|p| (p.identity.clone(), p.display_name.clone()))
            })
            .unwrap_or_default();
        let participant = self
            .calls
            .get_mut(call_id)
            .and_then(|c| c.participants.get_mut(&pid))
            .expect("just added");
        participant.phase = Phase::Ringing {
            endpoints: endpoints.clone(),
            deadline,
        };
        self.deadlines.insert((deadline, call_id.clone(), pid));
        for e in &endpoints {
            if let Some(ep) = self.endpoints.get_mut(e) {
                ep.ringing.insert(call_id.clone());
            }
        }
        self.send(
            endpoints,
            Event::IncomingCall {
                call_id: call_id.clone(),
                caller,
                caller_display_name,
            },
        );
        None
    }

    /// One endpoint of a ringing invitee went away: stop ringing there; with none left, the
    /// invitation ends as unreachable.
    fn stop_ringing_endpoint(&mut self, call_id: &CallId, endpoint: EndpointId) {
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        let mut exhausted = None;
        for p in call.participants.values_mut() {
            if let Phase::Ringing { endpoints, .. } = &mut p.phase {
                if let Some(i) = endpoints.iter().position(|e| *e == endpoint) {
                    endpoints.remove(i);
                    if endpoints.is_empty() {
                        exhausted = Some(p.id);
                    }
                }
            }
        }
        if let Some(pid) = exhausted {
            self.leave(call_id, pid, EndReason::NO_ENDPOINT, EndReason::NO_ENDPOINT);
        }
    }

    /// Takes a participant out of the call: a joined one's endpoint sees its call end with
    /// `own_reason`; a ringing one's endpoints stop ringing with it; the others see it removed
    /// with `others_reason`. Then ends the call if it is over.
    fn leave(
        &mut self,
        call_id: &CallId,
        pid: ParticipantId,
        own_reason: EndReason,
        others_reason: EndReason,
    ) {
        if !self.detach(call_id, pid, own_reason) {
            return;
        }
        let to = self.calls[call_id].joined_endpoints();
        self.send(
            to,
            Event::Participants {
                call_id: call_id.clone(),
                upsert: Vec::new(),
                removed: vec![RemovedParticipant {
                    participant_id: pid,
                    end_reason: others_reason,
                }],
            },
        );
        // End first, so nobody is told an in-between state of a call that is over.
        self.end_if_over(call_id);
        self.sync(call_id);
    }

    /// Removes a participant and tells it (not the others) why: a joined one's call ends, a
    /// ringing one's endpoints stop ringing. `false` if there was no such participant.
    fn detach(&mut self, call_id: &CallId, pid: ParticipantId, reason: EndReason) -> bool {
        let Some(call) = self.calls.get_mut(call_id) else {
            return false;
        };
        let Some(p) = call.participants.remove(&pid) else {
            return false;
        };
        // A phone's media may be open before it answers (early media): close it whatever.
        if p.is_joined() || matches!(p.phase, Phase::Phone { .. }) {
            self.outputs
                .push_back(HubOutput::Media(MediaCommand::Close {
                    leg: LegKey {
                        call: call_id.clone(),
                        participant: pid,
                    },
                }));
        }
        match p.phase {
            Phase::Joined { endpoint } => {
                if let Some(ep) = self.endpoints.get_mut(&endpoint) {
                    ep.legs.remove(call_id);
                }
                for state in [CallState::Disconnecting, CallState::Disconnected] {
                    let end_reason = (state == CallState::Disconnected).then_some(reason);
                    self.send(
                        vec![endpoint],
                        Event::CallState {
                            call_id: call_id.clone(),
                            state,
                            end_reason,
                            participant_id: Some(pid),
                        },
                    );
                }
            }
            Phase::Bot => {}
            Phase::Phone { progress } => {
                if progress != Some(PhoneProgress::Connected) {
                    call.unanswered.push(reason);
                }
                // The gateway hangs up, unless it is what told us the phone is gone.
                self.outputs
                    .push_back(HubOutput::Phone(PhoneCommand::HangUp {
                        leg: LegKey {
                            call: call_id.clone(),
                            participant: pid,
                        },
                    }));
            }
            Phase::Ringing {
                endpoints,
                deadline,
            } => {
                call.unanswered.push(reason);
                self.deadlines.remove(&(deadline, call_id.clone(), pid));
                for e in &endpoints {
                    if let Some(ep) = self.endpoints.get_mut(e) {
                        ep.ringing.remove(call_id);
                    }
                }
                self.send(
                    endpoints,
                    Event::IncomingCallEnded {
                        call_id: call_id.clone(),
                        reason,
                    },
                );
            }
        }
        true
    }

    /// Ends a call that is over: an ad hoc call with one participant left and no one ringing,
    /// or any call with no one in it.
    fn end_if_over(&mut self, call_id: &CallId) {
        let Some(call) = self.calls.get(call_id) else {
            return;
        };
        let (joined, ringing) = (call.joined_count(), call.invited_count());
        let over = match call.kind {
            CallKind::Adhoc => joined == 0 || (joined == 1 && ringing == 0),
            CallKind::Group => joined == 0,
        };
        if !over {
            return;
        }
        // Why it ended for whoever is left: the remote hung up (0/0) once answered; before an
        // answer, how the invitations ended.
        let reason = if call.answered {
            call.phone_hung_up.unwrap_or(EndReason::HUNG_UP)
        } else {
            match call.unanswered.as_slice() {
                [] => EndReason::HUNG_UP,
                [only] => *only,
                all if all.iter().all(|r| *r == EndReason::DECLINED) => EndReason::ALL_DECLINED,
                [.., last] => *last,
            }
        };
        let everyone: Vec<(ParticipantId, bool)> = call
            .participants
            .values()
            .map(|p| (p.id, p.endpoint().is_none()))
            .collect();
        for (pid, ringing) in everyone {
            // Invitees still ringing in an abandoned call: the caller cancelled.
            let reason = if ringing {
                EndReason::CANCELLED
            } else {
                reason
            };
            self.detach(call_id, pid, reason);
        }
        self.calls.remove(call_id);
    }

    /// Sends a new joiner the roster as the others know it. Not the joiner itself: it learns
    /// its participant id with its own call state (next sync), and would otherwise see itself
    /// as a remote participant until then.
    fn snapshot(&mut self, endpoint: EndpointId, call_id: &CallId, joiner: ParticipantId) {
        let call = &self.calls[call_id];
        let upsert: Vec<ParticipantInfo> = call
            .participants
            .values()
            .filter(|p| p.id != joiner && p.told_state.is_some())
            .map(Participant::info)
            .collect();
        if !upsert.is_empty() {
            self.send(
                vec![endpoint],
                Event::Participants {
                    call_id: call_id.clone(),
                    upsert,
                    removed: Vec::new(),
                },
            );
        }
    }

    /// Recomputes every participant's derived states; tells each endpoint its own call state
    /// when it changed, and everyone the participants that changed (one delta frame).
    fn sync(&mut self, call_id: &CallId) {
        let Some(call) = self.calls.get(call_id) else {
            return;
        };
        let mut own_changes = Vec::new();
        let mut changed = Vec::new();
        for p in call.participants.values() {
            let state = Call::participant_state_of(p);
            if p.told_state != Some(state) || p.dirty {
                changed.push((p.id, state));
            }
            if let Some(endpoint) = p.endpoint() {
                let call_state = call.call_state_of(p);
                if p.told_call_state != Some(call_state) {
                    own_changes.push((endpoint, p.id, call_state));
                }
            }
        }
        let call = self.calls.get_mut(call_id).expect("call exists");
        let mut upsert = Vec::new();
        for (pid, state) in changed {
            let p = call.participants.get_mut(&pid).expect("participant exists");
            p.told_state = Some(state);
            p.dirty = false;
            upsert.push(p.info());
        }
        for (_, pid, state) in &own_changes {
            call.participants
                .get_mut(pid)
                .expect("participant exists")
                .told_call_state = Some(*state);
        }
        let to = call.joined_endpoints();
        for (endpoint, pid, state) in own_changes {
            self.send(
                vec![endpoint],
                Event::CallState {
                    call_id: call_id.clone(),
                    state,
                    end_reason: None,
                    participant_id: Some(pid),
                },
            );
        }
        if !upsert.is_empty() {
            self.send(
                to,
                Event::Participants {
                    call_id: call_id.clone(),
                    upsert,
                    removed: Vec::new(),
                },
            );
        }
    }

    fn send(&mut self, to: Vec<EndpointId>, event: Event) {
        if !to.is_empty() {
            self.outputs.push_back(HubOutput::Send {
                to,
                frame: ServerFrame::event(event),
            });
        }
    }

    fn reply(&mut self, endpoint: EndpointId, id: RequestId, outcome: Result<Reply, WireError>) {
        let frame = match outcome {
            Ok(reply) => ServerFrame::reply(id, reply),
            Err(e) => ServerFrame::error(id, e),
        };
        self.outputs.push_back(HubOutput::Send {
            to: vec![endpoint],
            frame,
        });
    }

    fn media(&mut self, command: MediaCommand) {
        self.outputs.push_back(HubOutput::Media(command));
    }
}

#[cfg(test)]
#[path = "hub_tests.rs"]
mod tests;
