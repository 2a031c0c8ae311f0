//! The call hub: who is connected, which calls exist, who is in them and in what state. A sans-IO
//! state machine: it takes connections, requests, media and telephone events and time as
//! inputs and returns messages to endpoints and commands for the SFU and the telephone gateway
//! as outputs; it never touches a socket or a clock, and it knows the SFU and the gateway only
//! through [`crate::contract`].
//!
//! ```
//! use rtcall_server::signaling::hub::{Hub, HubConfig, HubOutput};
//! use std::time::Instant;
//!
//! let mut hub = Hub::new(HubConfig::default(), Box::new(|_| true));
//! let now = Instant::now();
//! hub.handle_connect(now, 1, "8:acs:r_alice".into(), "Alice".into());
//! // ... handle_request / handle_media / handle_phone / handle_disconnect / handle_resume /
//! // handle_timeout, then drain:
//! while let Some(output) = hub.poll_output() {
//!     match output {
//!         HubOutput::Send { to, frame } => { /* serialize once, send to each endpoint */ }
//!         HubOutput::Media(command) => { /* hand to the SFU */ }
//!         HubOutput::Phone(command) => { /* hand to the telephone gateway */ }
//!         HubOutput::Gone { endpoint } => { /* forget its link: it cannot resume */ }
//!     }
//! }
//! // ... and wake up at hub.poll_timeout() to call hub.handle_timeout(now).
//! ```
//!
//! States are derived, not stored: each participant keeps facts (ringing or joined, media
//! connected, on hold, …) and the hub recomputes the call state each endpoint sees and the
//! participant state the others see after every change, sending only real changes.
//!
//! Here live the hub's inputs and outputs; [`model`] holds the facts, `dispatch` checks and
//! carries out requests, `lifecycle` moves participants in and out of calls, `phone` handles
//! phone participants, `roster` tells endpoints what changed; `roles` decides who may do what,
//! `features` carries out the call features (hands, reactions, spotlights, text, soft mute),
//! `lobby` and `transfer` the lobby and blind transfer.

mod dispatch;
mod features;
mod lifecycle;
mod lobby;
mod model;
mod phone;
mod roles;
mod roster;
mod transfer;

use crate::contract::{EndpointId, LegKey, MediaCommand, MediaEvent, PhoneCommand};
use model::{Call, Endpoint, Participant};
use rtcall_protocol::call::{CallId, EndReason, ParticipantId};
use rtcall_protocol::signal::{
    ErrorKind, Event, Reply, Request, RequestId, ServerFrame, WireError,
};
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

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
    /// How long an endpoint that lost its socket keeps its calls, waiting to resume; then it
    /// leaves them (the others see 0/4521). Zero: it leaves at once.
    pub resume_window: Duration,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            ring_timeout: Duration::from_secs(60),
            max_participants: 350,
            phone_numbers: Vec::new(),
            resume_window: Duration::from_secs(30),
        }
    }
}

/// What the hub produces.
#[derive(Debug, Clone, PartialEq)]
pub enum HubOutput {
    /// Send one frame to each of these endpoints (serialize it once).
    Send {
        /// Recipients.
        to: Vec<EndpointId>,
        /// The frame.
        frame: Box<ServerFrame>,
    },
    /// A command for the SFU.
    Media(MediaCommand),
    /// A command for the telephone gateway.
    Phone(PhoneCommand),
    /// The endpoint is gone for good: nothing will resume it.
    Gone {
        /// Which.
        endpoint: EndpointId,
    },
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
    /// When endpoints that lost their sockets stop waiting to resume.
    away: BTreeSet<(Instant, EndpointId)>,
    /// Transfers made, to name their calls.
    transfers: u64,
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

/// A request's outcome, before it becomes a reply.
type Outcome = Result<(), WireError>;

fn error(kind: ErrorKind, message: impl Into<String>) -> WireError {
    WireError::new(kind, message)
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
            away: BTreeSet::new(),
            transfers: 0,
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
        let ring = self.deadlines.first().map(|(at, _, _)| *at);
        let away = self.away.first().map(|(at, _)| *at);
        ring.into_iter().chain(away).min()
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
                away: None,
            },
        );
    }

    /// An endpoint lost its socket (closed, silent past the heartbeat, too slow): it stays in
    /// its calls, shown to the others as reconnecting, for the resume window; then it leaves
    /// them ([`Hub::handle_timeout`]).
    pub fn handle_disconnect(&mut self, now: Instant, endpoint: EndpointId) {
        if self.config.resume_window.is_zero() {
            return self.handle_gone(now, endpoint);
        }
        let deadline = now + self.config.resume_window;
        let Some(ep) = self.endpoints.get_mut(&endpoint) else {
            return;
        };
        if ep.away.is_some() {
            return;
        }
        ep.away = Some(deadline);
        self.away.insert((deadline, endpoint));
        self.set_signal_lost(endpoint, true);
    }

    /// An endpoint that lost its socket resumed on a new one: the others see it back.
    pub fn handle_resume(&mut self, _now: Instant, endpoint: EndpointId) {
        let Some(ep) = self.endpoints.get_mut(&endpoint) else {
            return;
        };
        if let Some(deadline) = ep.away.take() {
            self.away.remove(&(deadline, endpoint));
            self.set_signal_lost(endpoint, false);
        }
    }

    /// An endpoint is gone for good: it leaves its calls with 0/4521 and stops ringing.
    pub fn handle_gone(&mut self, _now: Instant, endpoint: EndpointId) {
        let Some(ep) = self.endpoints.remove(&endpoint) else {
            return;
        };
        if let Some(deadline) = ep.away {
            self.away.remove(&(deadline, endpoint));
        }
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
        self.outputs.push_back(HubOutput::Gone { endpoint });
    }

    /// Marks the endpoint's participants as having lost (or regained) their signaling, and
    /// tells their calls.
    fn set_signal_lost(&mut self, endpoint: EndpointId, lost: bool) {
        let legs: Vec<LegKey> = self.endpoints[&endpoint]
            .legs
            .iter()
            .map(|(call, pid)| LegKey {
                call: call.clone(),
                participant: *pid,
            })
            .collect();
        for leg in legs {
            if let Some(p) = self.participant_mut(&leg) {
                if p.signal_lost != lost {
                    p.signal_lost = lost;
                    p.dirty = true;
                    self.sync(&leg.call);
                }
            }
        }
    }

    /// A request from an authenticated endpoint. Every request gets exactly one reply: at
    /// once, or for an SDP answer once the SFU says how it went ([`MediaEvent::Answered`]).
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
        if let Some(outcome) = self.dispatch(now, endpoint, id, request) {
            self.reply(endpoint, id, outcome);
        }
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
                } else if matches!(p.phase, model::Phase::Phone { .. }) {
                    self.outputs
                        .push_back(HubOutput::Phone(PhoneCommand::Offer {
                            leg,
                            version,
                            sdp,
                            media,
                        }));
                }
            }
            MediaEvent::Answered {
                leg,
                reply,
                outcome,
            } => match reply {
                Some(to) => self.reply(to.endpoint, to.request, outcome.map(|()| Reply::Done)),
                // The gateway's own answer: nobody to reply to.
                None => {
                    if let Err(e) = outcome {
                        tracing::warn!(participant = ?leg, error = %e.message, "a phone's media answer failed");
                    }
                }
            },
            MediaEvent::Connected { leg } => {
                if let Some(p) = self.participant_mut(&leg) {
                    p.media_connected = true;
                    self.sync(&leg.call);
                }
            }
            MediaEvent::Interrupted { leg } => self.set_media_lost(&leg, true),
            MediaEvent::Restored { leg } => self.set_media_lost(&leg, false),
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
                if let Some(c) = self.calls.get_mut(&call) {
                    c.dominant.clone_from(&ranked);
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

    /// Time passed: ring deadlines that fell due end their invitations with 487/10004, and
    /// endpoints whose resume window passed are gone.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((at, endpoint)) = self.away.first().copied() {
            if at > now {
                break;
            }
            self.away.pop_first();
            self.handle_gone(now, endpoint);
        }
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

    /// A participant's media connection was lost (or came back): the others see it
    /// reconnecting meanwhile.
    fn set_media_lost(&mut self, leg: &LegKey, lost: bool) {
        if let Some(p) = self.participant_mut(leg) {
            if p.media_lost != lost {
                p.media_lost = lost;
                p.dirty = true;
                self.sync(&leg.call);
            }
        }
    }

    // ---- lookups ----

    /// The leg of `endpoint` in a call it is in.
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

    // ---- outputs ----

    fn send(&mut self, to: Vec<EndpointId>, event: Event) {
        if !to.is_empty() {
            self.outputs.push_back(HubOutput::Send {
                to,
                frame: Box::new(ServerFrame::event(event)),
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
            frame: Box::new(frame),
        });
    }

    fn media(&mut self, command: MediaCommand) {
        self.outputs.push_back(HubOutput::Media(command));
    }

    fn phone(&mut self, command: PhoneCommand) {
        self.outputs.push_back(HubOutput::Phone(command));
    }
}

#[cfg(test)]
mod tests;
