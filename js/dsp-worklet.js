// rtcall's microphone DSP on the audio thread: an AudioWorkletProcessor over the wasm module
// built from crates/dsp-worklet. The main thread compiles the module (the worklet scope cannot
// fetch) and passes it in `processorOptions.module`; it is instantiated here with no imports.
// Per render quantum the processor copies samples into and out of the module's memory and
// makes no objects; it posts the level and speaking state (one reused object) about every
// 100 ms and whenever speaking changes.

const QUANTUM = 128;
const REPORT_EVERY_QUANTA = 38; // ~100 ms at 48 kHz

class RtcallDsp extends AudioWorkletProcessor {
  constructor({ processorOptions }) {
    super();
    const { module, noiseSuppression = false } = processorOptions;
    this.dsp = new WebAssembly.Instance(module, {}).exports;
    // The first call builds the chain (and warms the model up) now, not in process().
    this.dsp.set_noise_suppression(noiseSuppression ? 1 : 0);
    this.views();
    this.quanta = 0;
    this.speaking = 0;
    this.report = { level: 0, speaking: false };
    this.port.onmessage = ({ data }) => {
      if (typeof data?.noiseSuppression === 'boolean') this.dsp.set_noise_suppression(data.noiseSuppression ? 1 : 0);
    };
  }

  views() {
    const { buffer } = this.dsp.memory;
    this.input = new Float32Array(buffer, this.dsp.input_ptr(), QUANTUM);
    this.output = new Float32Array(buffer, this.dsp.output_ptr(), QUANTUM);
  }

  process(inputs, outputs) {
    // Memory never grows after construction; were it to, the old views would be detached.
    if (this.input.byteLength === 0) this.views();
    const channel = inputs[0]?.[0];
    if (channel) this.input.set(channel);
    else this.input.fill(0);
    this.dsp.process(QUANTUM);
    for (const out of outputs[0]) out.set(this.output);
    const speaking = this.dsp.speaking();
    if (++this.quanta >= REPORT_EVERY_QUANTA || speaking !== this.speaking) {
      this.quanta = 0;
      this.speaking = speaking;
      this.report.level = this.dsp.level();
      this.report.speaking = speaking === 1;
      this.port.postMessage(this.report);
    }
    return true;
  }
}

registerProcessor('rtcall-dsp', RtcallDsp);
