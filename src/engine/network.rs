//! How a call's network is doing, judged from what the browser reports about once a second:
//! the user-facing network diagnostics ACS raises (`networkReconnect`, `networkReceiveQuality`,
//! `networkSendQuality`) and when to ask for an ICE restart. Samples in, changes out; time is
//! an input.
//!
//! ```
//! use rtcall::engine::network::{Ice, NetworkMonitor, Sample};
//!
//! let mut monitor = NetworkMonitor::default();
//! let sample = Sample { signaling: true, ice: Ice::Connected, bytes_received: 1200, received: 40, lost: 0, send_loss: None };
//! let verdict = monitor.sample(1_000, sample);
//! assert!(verdict.changes.is_empty() && !verdict.restart_ice);
//! ```

/// Milliseconds since the Unix epoch.
type Millis = u64;

/// Nothing received for this long on a connection that received before: it is interrupted.
pub const STALL: Millis = 2_500;
/// ICE disconnected this long (or failed), or the media stalled: ask for an ICE restart...
pub const RESTART_AFTER: Millis = 2_000;
/// ...at most this often.
pub const RESTART_EVERY: Millis = 5_000;
/// Loss is judged over this span of samples.
const LOSS_SPAN: Millis = 5_000;
/// Fewer packets than this in the span say nothing about loss.
const LOSS_MIN_PACKETS: u64 = 50;
/// After an interruption, loss is not judged for this long: the packets lost during it are
/// counted when the first ones after it arrive, and the SFU's reports lag.
const LOSS_QUIET: Millis = 5_000;

/// `DiagnosticQuality`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quality {
    /// `Good = 1`.
    Good = 1,
    /// `Poor = 2`.
    Poor = 2,
    /// `Bad = 3`.
    Bad = 3,
}

impl Quality {
    /// From a share of packets lost: under 3 % good, up to 10 % poor, beyond bad.
    pub fn of_loss(loss: f64) -> Quality {
        if loss < 0.03 {
            Quality::Good
        } else if loss <= 0.10 {
            Quality::Poor
        } else {
            Quality::Bad
        }
    }
}

/// The media connection's ICE state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ice {
    /// Not connected yet (`new`, `checking`).
    Connecting,
    /// `connected` or `completed`.
    Connected,
    /// `disconnected`: checks are failing, it may come back.
    Disconnected,
    /// `failed`: it will not come back without a restart.
    Failed,
}

/// What the browser reports, cumulative since the connection began.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// The agent's connection to the service is up.
    pub signaling: bool,
    /// The media connection's ICE state.
    pub ice: Ice,
    /// Bytes received on the transport (media, RTCP and STUN).
    pub bytes_received: u64,
    /// Media packets received.
    pub received: u64,
    /// Media packets lost.
    pub lost: u64,
    /// The share of this endpoint's packets the SFU reports lost (0–1), if reported.
    pub send_loss: Option<f64>,
}

/// What to do about a sample.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verdict {
    /// Diagnostics that changed, by ACS name.
    pub changes: Vec<(&'static str, Quality)>,
    /// Ask the service for an ICE restart now.
    pub restart_ice: bool,
}

/// One call's network judgement. See the module docs.
#[derive(Debug, Default)]
pub struct NetworkMonitor {
    /// Recent samples, oldest first, spanning [`LOSS_SPAN`].
    recent: Vec<(Millis, Sample)>,
    /// When bytes last arrived, once any have.
    last_bytes: Option<(Millis, u64)>,
    /// Since when ICE has been disconnected or failed, or the media stalled.
    troubled_since: Option<Millis>,
    last_restart: Option<Millis>,
    /// The network changed: restart at the next sample.
    changed: bool,
    /// Loss is not judged before this time.
    quiet_until: Millis,
    reported: Vec<(&'static str, Quality)>,
}

impl NetworkMonitor {
    /// The device's network changed (another interface, back online): a restart is due.
    pub fn network_changed(&mut self) {
        self.changed = true;
    }

    /// The call has a new media connection, whose counters start over. What was raised stays
    /// raised until its samples say otherwise.
    pub fn new_connection(&mut self) {
        self.recent.clear();
        self.last_bytes = None;
        self.troubled_since = None;
    }

    /// Takes a sample taken at `now`.
    pub fn sample(&mut self, now: Millis, sample: Sample) -> Verdict {
        let stalled = match self.last_bytes {
            Some((_, bytes)) if sample.bytes_received > bytes => {
                self.last_bytes = Some((now, sample.bytes_received));
                false
            }
            Some((at, _)) => now.saturating_sub(at) >= STALL,
            None => {
                if sample.bytes_received > 0 {
                    self.last_bytes = Some((now, sample.bytes_received));
                }
                false
            }
        };
        let ice_down = matches!(sample.ice, Ice::Disconnected | Ice::Failed);
        let troubled = ice_down || stalled;
        self.troubled_since = match (troubled, self.troubled_since) {
            (false, _) => None,
            (true, since) => Some(since.unwrap_or(now)),
        };
        if troubled {
            self.quiet_until = now + LOSS_QUIET;
        }
        if now < self.quiet_until {
            self.recent.clear();
        }
        self.recent
            .retain(|(at, _)| now.saturating_sub(*at) <= LOSS_SPAN);
        self.recent.push((now, sample));

        let mut verdict = Verdict::default();
        let reconnect = if troubled || !sample.signaling {
            Quality::Bad
        } else {
            Quality::Good
        };
        self.report(&mut verdict, "networkReconnect", Some(reconnect));
        // Loss says something only while packets can arrive at all, and not just after.
        if now >= self.quiet_until {
            let receive = self.receive_loss().map(Quality::of_loss);
            self.report(&mut verdict, "networkReceiveQuality", receive);
            let send = sample.send_loss.map(Quality::of_loss);
            self.report(&mut verdict, "networkSendQuality", send);
        }

        // A change stays due until a restart can be asked for (signaling is often down just
        // after the device came back online).
        let due = self.changed
            || sample.ice == Ice::Failed
            || self
                .troubled_since
                .is_some_and(|since| now.saturating_sub(since) >= RESTART_AFTER);
        let allowed = self
            .last_restart
            .is_none_or(|at| now.saturating_sub(at) >= RESTART_EVERY);
        if due && allowed && sample.signaling {
            self.last_restart = Some(now);
            self.changed = false;
            verdict.restart_ice = true;
        }
        verdict
    }

    /// The share of packets lost over the recent span, if enough arrived to tell.
    fn receive_loss(&self) -> Option<f64> {
        let (_, first) = self.recent.first()?;
        let (_, last) = self.recent.last()?;
        let received = last.received.saturating_sub(first.received);
        let lost = last.lost.saturating_sub(first.lost);
        (received + lost >= LOSS_MIN_PACKETS).then(|| lost as f64 / (received + lost) as f64)
    }

    /// Records a diagnostic's value: a change is reported, and a diagnostic that was never
    /// raised is not reported good.
    fn report(&mut self, verdict: &mut Verdict, name: &'static str, value: Option<Quality>) {
        let Some(value) = value else { return };
        match self.reported.iter_mut().find(|(n, _)| *n == name) {
            Some((_, old)) if *old == value => {}
            Some((_, old)) => {
                *old = value;
                verdict.changes.push((name, value));
            }
            None if value == Quality::Good => {}
            None => {
                self.reported.push((name, value));
                verdict.changes.push((name, value));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy(bytes: u64, received: u64) -> Sample {
        Sample {
            signaling: true,
            ice: Ice::Connected,
            bytes_received: bytes,
            received,
            lost: 0,
            send_loss: None,
        }
    }

    /// Feeds a sample a second from `from` to `to` (exclusive), made by `at`.
    fn run(
        m: &mut NetworkMonitor,
        from: Millis,
        to: Millis,
        at: impl Fn(Millis) -> Sample,
    ) -> Vec<(Millis, Verdict)> {
        (from..to)
            .step_by(1000)
            .map(|t| (t, m.sample(t, at(t))))
            .filter(|(_, v)| *v != Verdict::default())
            .collect()
    }

    #[test]
    fn a_healthy_call_raises_nothing() {
        let mut m = NetworkMonitor::default();
        assert!(run(&mut m, 0, 30_000, |t| healthy(t, t / 20)).is_empty());
    }

    #[test]
    fn a_stall_is_a_reconnect_bad_then_good_with_one_restart_asked() {
        let mut m = NetworkMonitor::default();
        run(&mut m, 0, 10_000, |t| healthy(t, t / 20));
        // Nothing arrives from 10 s to 20 s.
        let cut = run(&mut m, 10_000, 20_000, |_| healthy(9_000, 450));
        assert_eq!(cut[0].0, 12_000, "bad once nothing came for {STALL} ms");
        assert_eq!(cut[0].1.changes, [("networkReconnect", Quality::Bad)]);
        let restarts: Vec<Millis> = cut
            .iter()
            .filter(|(_, v)| v.restart_ice)
            .map(|(t, _)| *t)
            .collect();
        assert_eq!(
            restarts,
            [14_000, 19_000],
            "{RESTART_AFTER} ms in, then every {RESTART_EVERY} ms"
        );
        let back = run(&mut m, 20_000, 25_000, |t| healthy(t, t / 20));
        assert_eq!(
            back[0],
            (
                20_000,
                Verdict {
                    changes: vec![("networkReconnect", Quality::Good)],
                    restart_ice: false
                }
            )
        );
    }

    #[test]
    fn what_was_lost_during_an_interruption_is_not_taken_for_a_lossy_network() {
        let mut m = NetworkMonitor::default();
        run(&mut m, 0, 10_000, |t| healthy(t, t / 20));
        run(&mut m, 10_000, 14_000, |_| healthy(9_000, 450));
        // Back: the 200 packets of the cut show up as lost with the first ones after it, and
        // the SFU says a quarter of ours were lost in its last report.
        let after = run(&mut m, 14_000, 30_000, |t| Sample {
            lost: 200,
            send_loss: (t < 17_000).then_some(0.25),
            ..healthy(t, t / 20)
        });
        let changes: Vec<_> = after.into_iter().flat_map(|(_, v)| v.changes).collect();
        assert_eq!(changes, [("networkReconnect", Quality::Good)]);
    }

    #[test]
    fn lost_signaling_is_a_reconnect_bad_without_a_restart_it_could_not_send() {
        let mut m = NetworkMonitor::default();
        run(&mut m, 0, 5_000, |t| healthy(t, t / 20));
        let v = m.sample(
            5_000,
            Sample {
                signaling: false,
                ..healthy(5_000, 250)
            },
        );
        assert_eq!(v.changes, [("networkReconnect", Quality::Bad)]);
        let v = m.sample(
            6_000,
            Sample {
                ice: Ice::Failed,
                signaling: false,
                ..healthy(6_000, 300)
            },
        );
        assert!(!v.restart_ice);
        let v = m.sample(
            7_000,
            Sample {
                ice: Ice::Failed,
                ..healthy(7_000, 350)
            },
        );
        assert!(
            v.restart_ice,
            "failed ICE restarts as soon as it can be asked"
        );
    }

    #[test]
    fn loss_grades_the_receive_and_send_quality() {
        let mut m = NetworkMonitor::default();
        // 50 packets a second, 5 of them lost: 10 %, poor.
        let lossy = |t: Millis| Sample {
            lost: t / 200,
            send_loss: Some(0.25),
            ..healthy(t, t / 20)
        };
        let verdicts = run(&mut m, 0, 8_000, lossy);
        let changes: Vec<_> = verdicts.into_iter().flat_map(|(_, v)| v.changes).collect();
        assert_eq!(
            changes,
            [
                ("networkSendQuality", Quality::Bad),
                ("networkReceiveQuality", Quality::Poor)
            ]
        );
        let clean = run(&mut m, 8_000, 20_000, |t| Sample {
            lost: 35,
            ..healthy(t, t / 20 + 1000)
        });
        let changes: Vec<_> = clean.into_iter().flat_map(|(_, v)| v.changes).collect();
        assert!(
            changes.contains(&("networkReceiveQuality", Quality::Good)),
            "{changes:?}"
        );
    }

    #[test]
    fn a_network_change_restarts_at_once() {
        let mut m = NetworkMonitor::default();
        run(&mut m, 0, 3_000, |t| healthy(t, t / 20));
        m.network_changed();
        assert!(m.sample(3_000, healthy(3_000, 150)).restart_ice);
        assert!(!m.sample(4_000, healthy(4_000, 200)).restart_ice);
        // A change while signaling is down waits for it.
        m.network_changed();
        let offline = Sample {
            signaling: false,
            ..healthy(9_000, 450)
        };
        assert!(!m.sample(9_000, offline).restart_ice);
        assert!(m.sample(10_000, healthy(10_000, 500)).restart_ice);
    }
}
