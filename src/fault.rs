//! Readable panics, and a library that outlives one.
//!
//! In the browser a Rust panic aborts: the module traps, the JavaScript caller sees only
//! `RuntimeError: unreachable`, and nothing on the panicking stack is unwound — a `RefCell` it
//! had borrowed stays borrowed for good. [`install`] makes a panic print its message, location
//! and stack to the console (`console_error_panic_hook`) and then runs the [`on_panic`]
//! recoveries in a later task. [`Recoverable`] is the cell whose holder a panic may cut short:
//! the next user takes it again and learns that it must repair what it holds (the call agent
//! ends the call it was in the middle of, and goes on).
//!
//! What no recovery gives back: the stack space of the frames a panic cut short (the shadow
//! stack pointer is not reset) and what they held. A page survives a few panics, not a stream of
//! them, which is why the agent shuts down rather than carry on after a panic it cannot place.

use std::cell::{Cell, RefCell, UnsafeCell};
use std::collections::VecDeque;
use std::rc::Rc;

type Recovery = Rc<dyn Fn() -> bool>;

thread_local! {
    static PANICS: Cell<u32> = const { Cell::new(0) };
    static RECOVERIES: RefCell<Vec<Recovery>> = RefCell::default();
    /// The recoveries of the run under way, next first; `None` while none is.
    static RUN: RefCell<Option<VecDeque<Recovery>>> = const { RefCell::new(None) };
}

/// Installs the panic hook; once is enough, again is harmless.
pub fn install() {
    std::panic::set_hook(Box::new(|info| {
        // Printed before the count changes: a console.error an app replaced that calls back
        // into rtcall still finds the engine taken, and is refused.
        console_error_panic_hook::hook(info);
        PANICS.with(|n| n.set(n.get().wrapping_add(1)));
        start_run();
        wasm_bindgen_futures::spawn_local(async { recover() });
    }));
}

/// Puts every recovery on a run, unless one is under way: a panic inside a recovery (taken off
/// the run before it ran) goes on with the rest of that run instead of starting another, so
/// none loops and none is skipped.
fn start_run() {
    RUN.with(|run| {
        run.borrow_mut()
            .get_or_insert_with(|| RECOVERIES.with(|r| r.borrow().iter().cloned().collect()));
    });
}

/// Runs the recoveries of the run under way, each taken off it before it runs.
fn recover() {
    while let Some(next) = RUN.with(|run| run.borrow_mut().as_mut().and_then(VecDeque::pop_front)) {
        if !next() {
            RECOVERIES.with(|r| r.borrow_mut().retain(|f| !Rc::ptr_eq(f, &next)));
        }
    }
    RUN.with(|run| run.borrow_mut().take());
}

/// Runs `recover` in a task after every panic, for as long as it returns `true`.
pub fn on_panic(recover: impl Fn() -> bool + 'static) {
    RECOVERIES.with(|r| r.borrow_mut().push(Rc::new(recover)));
}

/// How many panics this thread has had.
fn panics() -> u32 {
    PANICS.with(Cell::get)
}

/// A cell for state that pure Rust code changes in place (the engine): see the module docs.
///
/// The code given the value must not call out to JavaScript: then a panic inside it traps every
/// frame up to the JavaScript that called in, the holder's included, and taking the cell again
/// cannot alias a live borrow.
pub struct Recoverable<T> {
    value: UnsafeCell<T>,
    /// While taken: the panic count when it was taken.
    taken: Cell<Option<u32>>,
}

impl<T> Recoverable<T> {
    /// A cell holding `value`.
    pub fn new(value: T) -> Self {
        Recoverable {
            value: UnsafeCell::new(value),
            taken: Cell::new(None),
        }
    }

    /// Runs `use_it` with the value, telling it whether a panic cut its last holder short (the
    /// value may be half-changed). Panics if taken by a caller that is still running.
    pub fn with<R>(&self, use_it: impl FnOnce(&mut T, bool) -> R) -> R {
        let now = panics();
        let cut_short = match self.taken.get() {
            None => false,
            Some(at) if at != now => true,
            Some(_) => panic!("rtcall: re-entered state in use"),
        };
        self.taken.set(Some(now));
        // SAFETY: `taken` admits one holder at a time; one left over from before a panic is
        // gone, as the type's docs explain.
        let result = use_it(unsafe { &mut *self.value.get() }, cut_short);
        self.taken.set(None);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_holder_cut_short_by_a_panic_is_reported_to_the_next() {
        let cell = Recoverable::new(0);
        cell.with(|value, cut_short| {
            assert!(!cut_short);
            *value = 1;
        });
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            cell.with(|value, _| {
                *value = 2;
                PANICS.with(|n| n.set(n.get() + 1)); // what the hook does
                panic!("in the middle");
            })
        }));
        assert!(caught.is_err());
        assert!(cell.with(|value, cut_short| cut_short && *value == 2));
        assert!(cell.with(|_, cut_short| !cut_short));
    }

    #[test]
    fn a_recovery_that_panics_is_not_run_again_in_its_run_and_the_rest_still_are() {
        let ran = Rc::new(RefCell::new(Vec::new()));
        let first = ran.clone();
        on_panic(move || {
            first.borrow_mut().push(1);
            panic!("again")
        });
        let second = ran.clone();
        on_panic(move || {
            second.borrow_mut().push(2);
            false
        });
        start_run(); // the hook's part
        assert!(std::panic::catch_unwind(recover).is_err());
        start_run(); // the panic's hook, within the run
        recover(); // the task it schedules
        assert_eq!(*ran.borrow(), [1, 2]);
        // The second is done; the first is there for the next panic.
        assert_eq!(RECOVERIES.with(|r| r.borrow().len()), 1);
        start_run();
        assert!(std::panic::catch_unwind(recover).is_err());
        assert_eq!(*ran.borrow(), [1, 2, 1]);
    }

    #[test]
    fn re_entry_without_a_panic_is_refused() {
        let cell = Recoverable::new(());
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            cell.with(|_, _| cell.with(|_, _| ()))
        }));
        assert!(caught.is_err());
    }
}
