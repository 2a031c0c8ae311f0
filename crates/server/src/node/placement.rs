//! Which media worker carries which call. A call is placed on the least loaded live worker (by
//! media connections) when its first leg opens, every command about it goes to that worker,
//! and it is forgotten when its last leg closes — so a call's media never spans two threads
//! and each worker's SFU stays a plain single-threaded state machine. A worker that stopped is
//! retired: its calls are forgotten (their legs returned, to be failed) and it gets no more.
//! Sans-IO: commands in, worker indices out.

use crate::contract::{LegKey, MediaCommand};
use rtcall_protocol::call::{CallId, ParticipantId};
use std::collections::{HashMap, HashSet};

/// A placed call: its worker and its open legs.
#[derive(Debug)]
struct Placed {
    worker: usize,
    legs: HashSet<ParticipantId>,
}

/// Where a command goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The worker.
    pub worker: usize,
    /// The command closed the call's last leg: the call left that worker.
    pub freed: bool,
}

/// Calls by worker. See the module docs.
#[derive(Debug)]
pub struct Placement {
    calls: HashMap<CallId, Placed>,
    /// Open legs per worker.
    load: Vec<usize>,
    /// Workers that stopped.
    retired: Vec<bool>,
}

impl Placement {
    /// No calls on `workers` workers (at least one).
    pub fn new(workers: usize) -> Self {
        let workers = workers.max(1);
        Placement {
            calls: HashMap::new(),
            load: vec![0; workers],
            retired: vec![false; workers],
        }
    }

    /// The worker a command goes to. Opening a leg of a call no worker carries places the
    /// call; closing its last leg frees it. A command about a call that has no media (an
    /// answer for a leg already gone, say) goes to the first worker, which refuses it as any
    /// would.
    pub fn route(&mut self, command: &MediaCommand) -> Route {
        let call = command.call();
        let at = |worker| Route {
            worker,
            freed: false,
        };
        match command {
            MediaCommand::Open { leg } | MediaCommand::OpenEcho { leg, .. } => {
                let placed = match self.calls.get_mut(call) {
                    Some(placed) => placed,
                    None => {
                        let worker = self.least_loaded();
                        self.calls.entry(call.clone()).or_insert(Placed {
                            worker,
                            legs: HashSet::new(),
                        })
                    }
                };
                if placed.legs.insert(leg.participant) {
                    self.load[placed.worker] += 1;
                }
                at(placed.worker)
            }
            MediaCommand::Close { leg } => {
                let Some(placed) = self.calls.get_mut(call) else {
                    return at(0);
                };
                let worker = placed.worker;
                if placed.legs.remove(&leg.participant) {
                    self.load[worker] -= 1;
                }
                let freed = placed.legs.is_empty();
                if freed {
                    self.calls.remove(call);
                }
                Route { worker, freed }
            }
            _ => at(self.calls.get(call).map_or(0, |placed| placed.worker)),
        }
    }

    /// A worker stopped: it gets no more calls, and its calls are forgotten; returns their
    /// open legs.
    pub fn retire(&mut self, worker: usize) -> Vec<LegKey> {
        self.retired[worker] = true;
        self.load[worker] = 0;
        let gone: Vec<CallId> = self
            .calls
            .iter()
            .filter(|(_, placed)| placed.worker == worker)
            .map(|(call, _)| call.clone())
            .collect();
        let mut legs = Vec::new();
        for call in gone {
            if let Some(placed) = self.calls.remove(&call) {
                legs.extend(placed.legs.into_iter().map(|participant| LegKey {
                    call: call.clone(),
                    participant,
                }));
            }
        }
        legs
    }

    /// Open legs on each worker.
    pub fn load(&self) -> &[usize] {
        &self.load
    }

    /// The live worker with the fewest legs (the first if all stopped).
    fn least_loaded(&self) -> usize {
        (0..self.load.len())
            .filter(|w| !self.retired[*w])
            .min_by_key(|w| self.load[*w])
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::LegKey;
    use rtcall_protocol::signal::VideoSource;

    fn leg(call: &str, participant: u32) -> LegKey {
        LegKey {
            call: CallId(call.into()),
            participant: ParticipantId(participant),
        }
    }

    fn open(call: &str, participant: u32) -> MediaCommand {
        MediaCommand::Open {
            leg: leg(call, participant),
        }
    }

    fn close(call: &str, participant: u32) -> MediaCommand {
        MediaCommand::Close {
            leg: leg(call, participant),
        }
    }

    #[test]
    fn a_call_stays_on_one_worker_and_calls_spread_by_load() {
        let mut p = Placement::new(2);
        let a = p.route(&open("a", 0)).worker;
        // Everything about call a goes where it was placed.
        assert_eq!(p.route(&open("a", 1)).worker, a);
        assert_eq!(p.route(&open("a", 2)).worker, a);
        let subscribe = MediaCommand::Subscribe {
            leg: leg("a", 1),
            source: ParticipantId(0),
            video: VideoSource::Camera,
            stream_id: rtcall_protocol::call::StreamId(0),
            max_height: 360,
        };
        assert_eq!(p.route(&subscribe).worker, a);
        // The next calls go to the other worker until it carries as many legs.
        let b = p.route(&open("b", 0)).worker;
        assert_ne!(b, a);
        assert_eq!(p.route(&open("b", 1)).worker, b);
        assert_eq!(p.route(&open("c", 0)).worker, b);
        assert_eq!(p.load()[a], 3);
        assert_eq!(p.load()[b], 3);
        // Opening a leg twice (a phone's early media, then its answer) counts it once.
        assert_eq!(p.route(&open("b", 1)).worker, b);
        assert_eq!(p.load()[b], 3);
    }

    #[test]
    fn a_call_is_freed_by_its_last_close_and_placed_afresh() {
        let mut p = Placement::new(2);
        let a = p.route(&open("a", 0)).worker;
        p.route(&open("a", 1));
        p.route(&open("b", 0));
        let freeing = |worker, freed| Route { worker, freed };
        assert_eq!(p.route(&close("a", 0)), freeing(a, false));
        assert_eq!(p.route(&close("a", 1)), freeing(a, true));
        assert_eq!(p.load()[a], 0);
        // A group call of the same id started again: a new placement, on the emptier worker.
        assert_eq!(p.route(&open("a", 5)).worker, a);
        // Closing what was never opened changes nothing and frees nothing.
        assert!(!p.route(&close("nowhere", 0)).freed);
        assert!(!p.route(&close("a", 9)).freed);
        assert_eq!(p.load().iter().sum::<usize>(), 2);
    }

    #[test]
    fn a_stopped_worker_gives_back_its_legs_and_gets_no_more_calls() {
        let mut p = Placement::new(2);
        let a = p.route(&open("a", 0)).worker;
        p.route(&open("a", 1));
        let b = p.route(&open("b", 0)).worker;
        let mut legs = p.retire(a);
        legs.sort();
        assert_eq!(legs, [leg("a", 0), leg("a", 1)]);
        // Every new call goes to the one left, however loaded.
        for call in ["c", "d", "e"] {
            assert_eq!(p.route(&open(call, 0)).worker, b);
        }
        // The retired calls are unknown now: their commands go to the first worker, harmlessly.
        assert!(!p.route(&close("a", 0)).freed);
    }

    #[test]
    fn one_worker_takes_everything() {
        let mut p = Placement::new(1);
        for call in ["a", "b", "c"] {
            assert_eq!(p.route(&open(call, 0)).worker, 0);
        }
        assert_eq!(p.route(&close("x", 0)).worker, 0);
    }
}
