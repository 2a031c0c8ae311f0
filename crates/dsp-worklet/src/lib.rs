//! rtcall's microphone chain ([`rtcall_dsp::Processor`]) as a WebAssembly module for an
//! AudioWorklet. It has no imports and no wasm-bindgen glue: the worklet scope lacks what glue
//! needs (`TextDecoder`, `fetch`), so the main thread compiles the module and the processor
//! instantiates it with an empty import object.
//!
//! Each instance holds one chain. The processor writes a render quantum into the memory at
//! [`input_ptr`], calls [`process`], and reads the result at [`output_ptr`]: no allocation and
//! no JS objects per quantum.
//!
//! ```
//! use rtcall_dsp_worklet as worklet;
//! worklet::set_noise_suppression(1);
//! worklet::process(128);
//! assert_eq!(worklet::speaking(), 0);
//! ```
// Exports are `#[no_mangle]`, which `forbid(unsafe_code)` counts as unsafe; there is no other.

use rtcall_dsp::Processor;
use std::sync::Mutex;

/// The largest chunk `process` takes: the render quantum is 128 today; room for larger ones.
const MAX_CHUNK: usize = 480;

struct Worklet {
    processor: Processor,
    input: [f32; MAX_CHUNK],
    output: [f32; MAX_CHUNK],
}

/// The instance's chain, made on first use (the processor's constructor calls `process` or an
/// accessor before its first quantum, so that never happens on the audio thread).
static WORKLET: Mutex<Option<Box<Worklet>>> = Mutex::new(None);

fn with<T>(f: impl FnOnce(&mut Worklet) -> T) -> T {
    let mut slot = WORKLET.lock().unwrap_or_else(|e| e.into_inner());
    let worklet = slot.get_or_insert_with(|| {
        Box::new(Worklet {
            processor: Processor::new(),
            input: [0.0; MAX_CHUNK],
            output: [0.0; MAX_CHUNK],
        })
    });
    f(worklet)
}

/// Where to write the next chunk's samples (f32, -1..1).
#[no_mangle]
pub extern "C" fn input_ptr() -> *mut f32 {
    with(|w| w.input.as_mut_ptr())
}

/// Where `process` leaves the processed samples.
#[no_mangle]
pub extern "C" fn output_ptr() -> *const f32 {
    with(|w| w.output.as_ptr())
}

/// Processes the first `len` input samples (at most 480) into the output.
#[no_mangle]
pub extern "C" fn process(len: u32) {
    with(|w| {
        let len = (len as usize).min(MAX_CHUNK);
        w.processor.process(&w.input[..len], &mut w.output[..len]);
    });
}

/// Noise suppression on (non-zero) or off.
#[no_mangle]
pub extern "C" fn set_noise_suppression(on: u32) {
    with(|w| w.processor.set_noise_suppression(on != 0));
}

/// The microphone level, 0–100.
#[no_mangle]
pub extern "C" fn level() -> f32 {
    with(|w| w.processor.level())
}

/// 1 while someone speaks, else 0.
#[no_mangle]
pub extern "C" fn speaking() -> u32 {
    with(|w| u32::from(w.processor.speaking()))
}
