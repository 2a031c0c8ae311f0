//! Processing allocates nothing once a `Processor` exists: counted by a global allocator that
//! this test binary installs. Only the test's own thread is counted: the test harness's threads
//! allocate when they like.

use rtcall_dsp::Processor;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: a thread being torn down has no counter left, and is not the test's.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn processing_allocates_nothing_after_construction() {
    // Noise and a tone, loud and quiet, with suppression toggled: every path of the chain.
    let mut seed = 0x2545_f491_u32;
    let signal: Vec<f32> = (0..48_000 * 3)
        .map(|i| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let noise = (seed as f32 / u32::MAX as f32 - 0.5) * 0.2;
            let tone = 0.4 * (i as f32 * 0.05).sin();
            if (i / 24_000) % 2 == 0 {
                noise + tone
            } else {
                noise * 0.01
            }
        })
        .collect();
    let mut processor = Processor::new();
    let mut out = [0.0; 128];
    let before = allocations();
    for (n, quantum) in signal.chunks(128).enumerate() {
        if n % 100 == 0 {
            processor.set_noise_suppression(n % 200 == 0);
        }
        processor.process(quantum, &mut out[..quantum.len()]);
    }
    let during = allocations() - before;
    assert_eq!(during, 0, "allocations while processing 3 s of audio");
    // The counter does count: constructing one allocates.
    drop(Processor::new());
    assert!(allocations() > before);
}
