//! Readable panics, and a library that outlives one.
//!
//! In the browser a Rust panic aborts: the module traps, the JavaScript caller sees only
//! `RuntimeError: unreachable`, and nothing on the panicking stack is unwound — a `RefCell` it
//! had borrowed stays borrowed for good. [`install`] makes a panic print its message, location
//! and stack to the console (`console_error_panic_hook`) and then runs the [`on_panic`]
//! recoveries in a later task. [`Recoverable`] is the cell whose holder a panic may cut short:
//! the next user takes it again and learns that it must repair what it holds (the call agent
//! ends the call it was in the middle of, and goes on).

use std::cell::{Cell, RefCell, UnsafeCell};
use std::rc::Rc;

type Recovery = Rc<dyn Fn() -> bool>;

thread_local! {
    static PANICS: Cell<u32> = const { Cell::new(0) };
    static RECOVERIES: RefCell<Vec<Recovery>> = RefCell::default();
    static RECOVERING: Cell<bool> = const { Cell::new(false) };
}

/// Installs the panic hook; once is enough, again is harmless.
pub fn install() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        PANICS.with(|n| n.set(n.get().wrapping_add(1)));
        // One run of the recoveries at a time: a panic inside one must not schedule another
        // run before this one is over.
        if !RECOVERING.with(|r| r.replace(true)) {
            wasm_bindgen_futures::spawn_local(async {
                RECOVERING.with(|r| r.set(false));
                // Not borrowed while they run: one that panics loses none of the others.
                let recoveries = RECOVERIES.with(|r| r.borrow().clone());
                let over: Vec<Recovery> = recoveries.into_iter().filter(|f| !f()).collect();
                RECOVERIES.with(|r| {
                    r.borrow_mut()
                        .retain(|f| !over.iter().any(|o| Rc::ptr_eq(f, o)))
                });
            });
        }
    }));
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
    fn re_entry_without_a_panic_is_refused() {
        let cell = Recoverable::new(());
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            cell.with(|_, _| cell.with(|_, _| ()))
        }));
        assert!(caught.is_err());
    }
}
