//! Time for the browser shell: the page's clock and timers ([`SystemClock`]), and a clock that
//! tests and simulations move by hand ([`ManualClock`]). Everything in the library that waits
//! takes a [`Clock`], so its timing can be tested without waiting.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::{Rc, Weak};

/// A source of wall-clock time and timers.
pub trait Clock {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
    /// Calls `callback` once, `delay_ms` from now, unless the returned [`Timer`] is dropped first.
    fn start_timer(&self, delay_ms: u64, callback: Box<dyn FnOnce()>) -> Timer;
}

/// A pending timer. Dropping it cancels the callback.
#[must_use = "dropping a Timer cancels it"]
pub struct Timer(#[allow(dead_code)] Box<dyn std::any::Any>);

impl std::fmt::Debug for Timer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Timer")
    }
}

/// The page's clock: `Date.now()` and `setTimeout`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

/// `setTimeout` takes a signed 32-bit delay; longer ones fire at once.
const MAX_TIMEOUT_MS: u64 = i32::MAX as u64;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        js_sys::Date::now() as u64
    }

    fn start_timer(&self, delay_ms: u64, callback: Box<dyn FnOnce()>) -> Timer {
        let delay = delay_ms.min(MAX_TIMEOUT_MS) as u32;
        Timer(Box::new(gloo_timers::callback::Timeout::new(
            delay, callback,
        )))
    }
}

/// A clock that stands still until [`ManualClock::advance`] moves it, firing due timers in
/// order. Clones share one clock.
#[derive(Clone, Default)]
pub struct ManualClock {
    state: Rc<RefCell<ManualState>>,
}

#[derive(Default)]
struct ManualState {
    now_ms: u64,
    next_id: u64,
    /// Pending callbacks by (due time, creation order).
    timers: BTreeMap<(u64, u64), Box<dyn FnOnce()>>,
}

impl std::fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state.borrow();
        f.debug_struct("ManualClock")
            .field("now_ms", &state.now_ms)
            .field("pending_timers", &state.timers.len())
            .finish()
    }
}

struct ManualTimer {
    state: Weak<RefCell<ManualState>>,
    key: (u64, u64),
}

impl Drop for ManualTimer {
    fn drop(&mut self) {
        if let Some(state) = self.state.upgrade() {
            // A callback removed for firing is already gone; removing is then a no-op. The
            // clock never holds its borrow while a callback runs, so this cannot conflict.
            let removed = state.borrow_mut().timers.remove(&self.key);
            drop(removed);
        }
    }
}

impl ManualClock {
    /// A clock reading `now_ms`.
    pub fn new(now_ms: u64) -> Self {
        let clock = ManualClock::default();
        clock.state.borrow_mut().now_ms = now_ms;
        clock
    }

    /// Moves time forward by `ms`, running each timer that falls due, in order, with the clock
    /// reading its due time while it runs.
    pub fn advance(&self, ms: u64) {
        let target = self.state.borrow().now_ms + ms;
        loop {
            let due = {
                let mut state = self.state.borrow_mut();
                match state.timers.first_key_value() {
                    Some((&(at, _), _)) if at <= target => {
                        state.now_ms = state.now_ms.max(at);
                        state.timers.pop_first()
                    }
                    _ => None,
                }
            };
            match due {
                Some((_, callback)) => callback(),
                None => break,
            }
        }
        self.state.borrow_mut().now_ms = target;
    }

    /// How many timers are pending.
    pub fn pending_timers(&self) -> usize {
        self.state.borrow().timers.len()
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.state.borrow().now_ms
    }

    fn start_timer(&self, delay_ms: u64, callback: Box<dyn FnOnce()>) -> Timer {
        let mut state = self.state.borrow_mut();
        let key = (state.now_ms + delay_ms, state.next_id);
        state.next_id += 1;
        state.timers.insert(key, callback);
        Timer(Box::new(ManualTimer {
            state: Rc::downgrade(&self.state),
            key,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_fire_in_order_at_their_due_time() {
        let clock = ManualClock::new(1000);
        let fired = Rc::new(RefCell::new(Vec::new()));
        let record = |name: &'static str| {
            let fired = Rc::clone(&fired);
            let clock = clock.clone();
            Box::new(move || fired.borrow_mut().push((name, clock.now_ms()))) as Box<dyn FnOnce()>
        };
        let _late = clock.start_timer(300, record("late"));
        let _early = clock.start_timer(100, record("early"));
        let cancelled = clock.start_timer(200, record("cancelled"));
        drop(cancelled);
        clock.advance(250);
        assert_eq!(*fired.borrow(), [("early", 1100)]);
        assert_eq!(clock.now_ms(), 1250);
        clock.advance(1000);
        assert_eq!(*fired.borrow(), [("early", 1100), ("late", 1300)]);
        assert_eq!(clock.pending_timers(), 0);
    }

    #[test]
    fn a_callback_may_start_another_timer() {
        let clock = ManualClock::new(0);
        let fired = Rc::new(RefCell::new(0));
        let slot: Rc<RefCell<Option<Timer>>> = Rc::default();
        let (c, f, s) = (clock.clone(), Rc::clone(&fired), Rc::clone(&slot));
        *slot.borrow_mut() = Some(clock.start_timer(
            10,
            Box::new(move || {
                *f.borrow_mut() += 1;
                let f = Rc::clone(&f);
                *s.borrow_mut() = Some(c.start_timer(10, Box::new(move || *f.borrow_mut() += 1)));
            }),
        ));
        clock.advance(25);
        assert_eq!(*fired.borrow(), 2);
    }
}
