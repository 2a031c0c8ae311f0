//! The call features a participant asks for ([`FeatureRequest`]): raised hands, reactions,
//! spotlights, real-time text, soft mute, and opening data channels; blind transfer has its own
//! module. Each is checked against the participant's capabilities first. Raised hands and
//! spotlights are facts of the participants, told to everyone as whole ordered lists (short)
//! whenever they change and to each joiner as it comes in; reactions and text are passed on.

use super::model::Participant;
use super::{error, Hub, Outcome};
use crate::contract::{EndpointId, LegKey, MediaCommand};
use rtcall_protocol::call::{CallId, ParticipantId};
use rtcall_protocol::features::{
    Capability, FeatureEvent, FeatureRequest, Ordered, MAX_REAL_TIME_TEXT_CHARS, MAX_SPOTLIGHTS,
};
use rtcall_protocol::signal::{ErrorKind, Event, WireError};
use std::time::Instant;

impl Hub {
    /// Carries out a feature request from `endpoint` in `call_id`.
    pub(super) fn feature(
        &mut self,
        now: Instant,
        endpoint: EndpointId,
        call_id: &CallId,
        request: FeatureRequest,
    ) -> Outcome {
        let leg = self.leg_of(endpoint, call_id)?;
        match request {
            FeatureRequest::RaiseHand { raised } => {
                self.require(endpoint, call_id, Capability::RaiseHand)?;
                self.set_marks(call_id, Mark::Hand, |p| {
                    (p.id == leg.participant).then_some(raised)
                });
                Ok(())
            }
            FeatureRequest::LowerHands { targets } => {
                // Lowering others' hands is the organizer's and presenters' (or anyone's in an
                // ad hoc call), as muting them is.
                self.require_manager(endpoint, call_id)?;
                let targets = self.named(call_id, targets.as_deref())?;
                self.set_marks(call_id, Mark::Hand, |p| {
                    targets.contains(&p.id).then_some(false)
                });
                Ok(())
            }
            FeatureRequest::Reaction { reaction } => {
                self.require(endpoint, call_id, Capability::UseReactions)?;
                let to = self.calls[call_id].joined_endpoints();
                self.send(
                    to,
                    Event::Feature {
                        call_id: call_id.clone(),
                        event: FeatureEvent::Reaction {
                            participant_id: leg.participant,
                            reaction,
                        },
                    },
                );
                Ok(())
            }
            FeatureRequest::Spotlight { targets, on } => {
                self.spotlight(&leg, endpoint, targets, on)
            }
            FeatureRequest::StopAllSpotlight => {
                self.require(endpoint, call_id, Capability::RemoveParticipantsSpotlight)?;
                self.set_marks(call_id, Mark::Spotlight, |_| Some(false));
                Ok(())
            }
            FeatureRequest::RealTimeText {
                sequence_id,
                text,
                finalized,
            } => {
                self.require(endpoint, call_id, Capability::RealTimeText)?;
                if text.chars().count() > MAX_REAL_TIME_TEXT_CHARS {
                    return Err(error(
                        ErrorKind::LimitReached,
                        format!("real-time text takes at most {MAX_REAL_TIME_TEXT_CHARS} characters a message"),
                    ));
                }
                let to: Vec<EndpointId> = self.calls[call_id]
                    .joined_endpoints()
                    .into_iter()
                    .filter(|e| *e != endpoint)
                    .collect();
                self.send(
                    to,
                    Event::Feature {
                        call_id: call_id.clone(),
                        event: FeatureEvent::RealTimeText {
                            participant_id: leg.participant,
                            sequence_id,
                            text,
                            finalized,
                        },
                    },
                );
                Ok(())
            }
            FeatureRequest::Transfer { target } => self.transfer(now, endpoint, call_id, target),
            FeatureRequest::OpenDataChannel => {
                // Asked in the lobby, they open once it is let in.
                let Some(p) = self.participant_mut(&leg) else {
                    return Ok(());
                };
                p.data = true;
                if !p.in_lobby() {
                    self.media(MediaCommand::OpenData { leg });
                }
                Ok(())
            }
        }
    }

    /// Mutes others' microphones (these raw ids, or everyone else): each muted endpoint is
    /// told, and the others see them muted.
    pub(super) fn mute_others(
        &mut self,
        endpoint: EndpointId,
        call_id: &CallId,
        targets: Option<Vec<String>>,
    ) -> Outcome {
        self.require(endpoint, call_id, Capability::MuteOthers)?;
        let me = self.leg_of(endpoint, call_id)?.participant;
        let named = self.named(call_id, targets.as_deref())?;
        let Some(call) = self.calls.get_mut(call_id) else {
            return Ok(());
        };
        let mut muted = Vec::new();
        for p in call.participants.values_mut() {
            if p.id == me || !named.contains(&p.id) || p.muted {
                continue;
            }
            // Phones and bots have no microphone of their own to mute here.
            if let Some(endpoint) = p.endpoint() {
                p.muted = true;
                p.dirty = true;
                muted.push(endpoint);
            }
        }
        for endpoint in muted {
            self.send(
                vec![endpoint],
                Event::MutedByOthers {
                    call_id: call_id.clone(),
                },
            );
        }
        self.sync(call_id);
        Ok(())
    }

    /// Spotlights participants (`targets`, raw ids; none: the asker) or stops.
    fn spotlight(
        &mut self,
        leg: &LegKey,
        endpoint: EndpointId,
        targets: Vec<String>,
        on: bool,
    ) -> Outcome {
        let call_id = &leg.call;
        let named = if targets.is_empty() {
            vec![leg.participant]
        } else {
            self.named(call_id, Some(&targets))?
        };
        // Anyone may take their own spotlight down; the rest needs the capability.
        let own = named == [leg.participant];
        if on {
            self.require(endpoint, call_id, Capability::SpotlightParticipant)?;
        } else if !own {
            self.require(endpoint, call_id, Capability::RemoveParticipantsSpotlight)?;
        }
        if on {
            let call = &self.calls[call_id];
            let already = call
                .participants
                .values()
                .filter(|p| p.spotlight.is_some())
                .count();
            let new = named
                .iter()
                .filter(|id| call.participants[id].spotlight.is_none())
                .count();
            if already + new > MAX_SPOTLIGHTS as usize {
                return Err(error(
                    ErrorKind::LimitReached,
                    format!("at most {MAX_SPOTLIGHTS} participants can be spotlighted at once"),
                ));
            }
        }
        self.set_marks(call_id, Mark::Spotlight, |p| {
            named.contains(&p.id).then_some(on)
        });
        Ok(())
    }

    /// Refuses unless the endpoint's participant may manage others (organizer, presenter, or
    /// anyone in an ad hoc call).
    fn require_manager(&self, endpoint: EndpointId, call_id: &CallId) -> Outcome {
        self.require(endpoint, call_id, Capability::RemoveParticipant)
    }

    /// The participants of the call (in it, not its lobby) named by these raw ids, or all of
    /// them (`None`); a name that matches nobody is refused.
    pub(super) fn named(
        &self,
        call_id: &CallId,
        targets: Option<&[String]>,
    ) -> Result<Vec<ParticipantId>, WireError> {
        let call = &self.calls[call_id];
        let present = || call.participants.values().filter(|p| !p.in_lobby());
        let Some(targets) = targets else {
            return Ok(present().map(|p| p.id).collect());
        };
        let mut named = Vec::new();
        for target in targets {
            let before = named.len();
            named.extend(present().filter(|p| &p.identity == target).map(|p| p.id));
            if named.len() == before {
                return Err(error(
                    ErrorKind::ParticipantNotFound,
                    "no such participant in the call",
                ));
            }
        }
        Ok(named)
    }

    /// Sets or clears `mark` as `change` says for each participant (`None`: leaves it);
    /// tells everyone the list if it changed.
    fn set_marks(
        &mut self,
        call_id: &CallId,
        mark: Mark,
        change: impl Fn(&Participant) -> Option<bool>,
    ) {
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        let wanted: Vec<(ParticipantId, bool)> = call
            .participants
            .values()
            .filter_map(|p| change(p).map(|on| (p.id, on)))
            .collect();
        let mut changed = false;
        for (id, on) in wanted {
            let order = on.then(|| call.next_order());
            if let Some(p) = call.participants.get_mut(&id) {
                let slot = mark.slot(p);
                if slot.is_some() != on {
                    *slot = order;
                    changed = true;
                }
            }
        }
        if changed {
            let to = call.joined_endpoints();
            let event = mark.event(call_id, call.participants.values());
            self.send(to, event);
        }
    }

    /// Tells a participant coming into the call whose hands are raised and who is
    /// spotlighted (lists that may be empty: a call joined again starts from them).
    pub(super) fn tell_feature_lists(&mut self, endpoint: EndpointId, call_id: &CallId) {
        let call = &self.calls[call_id];
        let lists =
            [Mark::Hand, Mark::Spotlight].map(|m| m.event(call_id, call.participants.values()));
        for list in lists {
            self.send(vec![endpoint], list);
        }
    }
}

/// What participants carry in an order: a raised hand, a spotlight.
#[derive(Debug, Clone, Copy)]
enum Mark {
    Hand,
    Spotlight,
}

impl Mark {
    fn at(self, p: &Participant) -> Option<u64> {
        match self {
            Mark::Hand => p.hand,
            Mark::Spotlight => p.spotlight,
        }
    }

    fn slot(self, p: &mut Participant) -> &mut Option<u64> {
        match self {
            Mark::Hand => &mut p.hand,
            Mark::Spotlight => &mut p.spotlight,
        }
    }

    /// The list of those marked, in the order they were, numbered from 1, as an event.
    fn event<'a>(
        self,
        call_id: &CallId,
        participants: impl Iterator<Item = &'a Participant>,
    ) -> Event {
        let mut list: Vec<(u64, ParticipantId)> = participants
            .filter_map(|p| self.at(p).map(|o| (o, p.id)))
            .collect();
        list.sort_unstable();
        let list = list
            .into_iter()
            .zip(1..)
            .map(|((_, participant_id), order)| Ordered {
                participant_id,
                order,
            })
            .collect();
        let event = match self {
            Mark::Hand => FeatureEvent::RaisedHands { hands: list },
            Mark::Spotlight => FeatureEvent::Spotlights {
                participants: list,
                max: MAX_SPOTLIGHTS,
            },
        };
        Event::Feature {
            call_id: call_id.clone(),
            event,
        }
    }
}
