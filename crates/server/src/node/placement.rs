//! Which media worker carries which call. A call is placed on the least loaded worker (by
//! media connections) when its first leg opens, every command about it goes to that worker,
//! and it is forgotten when its last leg closes — so a call's media never spans two threads
//! and each worker's SFU stays a plain single-threaded state machine. Sans-IO: commands in,
//! worker indices out.

use crate::contract::MediaCommand;
use rtcall_protocol::call::{CallId, ParticipantId};
use std::collections::{HashMap, HashSet};

/// A placed call: its worker and its open legs.
#[derive(Debug)]
struct Placed {
    worker: usize,
    legs: HashSet<ParticipantId>,
}

/// Calls by worker. See the module docs.
#[derive(Debug)]
pub struct Placement {
    calls: HashMap<CallId, Placed>,
    /// Open legs per worker.
    load: Vec<usize>,
}

impl Placement {
    /// No calls on `workers` workers (at least one).
    pub fn new(workers: usize) -> Self {
        Placement {
            calls: HashMap::new(),
            load: vec![0; workers.max(1)],
        }
    }

    /// The worker a command goes to. Opening a leg of a call no worker carries places the
    /// call; closing its last leg frees it. A command about a call that has no media (an
    /// answer for a leg already gone, say) goes to the first worker, which refuses it as any
    /// would.
    pub fn route(&mut self, command: &MediaCommand) -> usize {
        let call = command.call();
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
                placed.worker
            }
            MediaCommand::Close { leg } => {
                let Some(placed) = self.calls.get_mut(call) else {
                    return 0;
                };
                let worker = placed.worker;
                if placed.legs.remove(&leg.participant) {
                    self.load[worker] -= 1;
                }
                if placed.legs.is_empty() {
                    self.calls.remove(call);
                }
                worker
            }
            _ => self.calls.get(call).map_or(0, |placed| placed.worker),
        }
    }

    /// Open legs on each worker.
    pub fn load(&self) -> &[usize] {
        &self.load
    }

    fn least_loaded(&self) -> usize {
        (0..self.load.len())
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
        let a = p.route(&open("a", 0));
        // Everything about call a goes where it was placed.
        assert_eq!(p.route(&open("a", 1)), a);
        assert_eq!(p.route(&open("a", 2)), a);
        let subscribe = MediaCommand::Subscribe {
            leg: leg("a", 1),
            source: ParticipantId(0),
            video: VideoSource::Camera,
            stream_id: rtcall_protocol::call::StreamId(0),
            max_height: 360,
        };
        assert_eq!(p.route(&subscribe), a);
        // The next calls go to the other worker until it carries as many legs.
        let b = p.route(&open("b", 0));
        assert_ne!(b, a);
        assert_eq!(p.route(&open("b", 1)), b);
        assert_eq!(p.route(&open("c", 0)), b);
        assert_eq!(p.load()[a], 3);
        assert_eq!(p.load()[b], 3);
        // Opening a leg twice (a phone's early media, then its answer) counts it once.
        assert_eq!(p.route(&open("b", 1)), b);
        assert_eq!(p.load()[b], 3);
    }

    #[test]
    fn a_call_is_freed_by_its_last_close_and_placed_afresh() {
        let mut p = Placement::new(2);
        let a = p.route(&open("a", 0));
        p.route(&open("a", 1));
        p.route(&open("b", 0));
        assert_eq!(p.route(&close("a", 0)), a);
        assert_eq!(p.route(&close("a", 1)), a);
        assert_eq!(p.load()[a], 0);
        // A group call of the same id started again: a new placement, on the emptier worker.
        assert_eq!(p.route(&open("a", 5)), a);
        // Closing what was never opened changes nothing.
        p.route(&close("nowhere", 0));
        p.route(&close("a", 9));
        assert_eq!(p.load().iter().sum::<usize>(), 2);
    }

    #[test]
    fn one_worker_takes_everything() {
        let mut p = Placement::new(1);
        for call in ["a", "b", "c"] {
            assert_eq!(p.route(&open(call, 0)), 0);
        }
        assert_eq!(p.route(&close("x", 0)), 0);
    }
}
