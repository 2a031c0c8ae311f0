//! A small mixed-radix FFT with rustfft's API, which the workspace patches in for rustfft.
//!
//! Why: nnnoiseless (the noise-suppression model) transforms one size only, 960 real points,
//! but plans it at run time through rustfft's planner, so every algorithm rustfft has is
//! linked: about 530 KB of the AudioWorklet module's 650 KB of code. This crate computes any
//! length with a recursive decimation-in-time Cooley–Tukey over the length's prime factors
//! (radices 2, 3, 4 and 5 by hand, any other prime by its direct DFT), in a few KB. The
//! model's length, 480 complex points = 4·4·2·3·5, costs a few microseconds.
//!
//! Only the part of rustfft's API that realfft and easyfft use is here.
//!
//! ```
//! use rustfft::{num_complex::Complex, FftPlanner};
//!
//! let fft = FftPlanner::<f32>::new().plan_fft_forward(4);
//! let mut buffer = [Complex::new(1.0, 0.0); 4];
//! fft.process(&mut buffer);
//! assert_eq!(buffer[0], Complex::new(4.0, 0.0));
//! assert_eq!(buffer[1], Complex::new(0.0, 0.0));
//! ```

pub use num_complex;
pub use num_traits;

use num_complex::Complex;
use num_traits::{FromPrimitive, Signed, Zero};
use std::fmt::Debug;
use std::sync::Arc;

/// A number the transforms work on: `f32` or `f64`.
pub trait FftNum: Copy + FromPrimitive + Signed + Sync + Send + Debug + 'static {}

impl<T> FftNum for T where T: Copy + FromPrimitive + Signed + Sync + Send + Debug + 'static {}

/// The number of points a transform takes.
#[allow(
    clippy::len_without_is_empty,
    reason = "rustfft's trait: a transform is never empty"
)]
pub trait Length {
    fn len(&self) -> usize;
}

/// Forward (`exp(-2πi·kn/N)`) or inverse (`exp(+2πi·kn/N)`); neither is normalised.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum FftDirection {
    Forward,
    Inverse,
}

impl FftDirection {
    pub fn opposite_direction(&self) -> FftDirection {
        match self {
            Self::Forward => Self::Inverse,
            Self::Inverse => Self::Forward,
        }
    }
}

/// Which way a transform goes.
pub trait Direction {
    fn fft_direction(&self) -> FftDirection;
}

/// A planned transform of one length. Buffers may hold several transforms back to back.
pub trait Fft<T: FftNum>: Length + Direction + Sync + Send {
    /// In place, allocating its scratch; use `process_with_scratch` on a real-time path.
    fn process(&self, buffer: &mut [Complex<T>]) {
        let mut scratch = vec![Complex::zero(); self.get_inplace_scratch_len()];
        self.process_with_scratch(buffer, &mut scratch);
    }

    fn process_with_scratch(&self, buffer: &mut [Complex<T>], scratch: &mut [Complex<T>]);

    /// `input` is left as it was (rustfft may use it as scratch; this one does not).
    fn process_outofplace_with_scratch(
        &self,
        input: &mut [Complex<T>],
        output: &mut [Complex<T>],
        scratch: &mut [Complex<T>],
    );

    fn get_inplace_scratch_len(&self) -> usize;

    fn get_outofplace_scratch_len(&self) -> usize;
}

/// Makes transforms. Planning costs one table of `len` twiddle factors.
pub struct FftPlanner<T> {
    _number: std::marker::PhantomData<T>,
}

impl<T: FftNum> FftPlanner<T> {
    pub fn new() -> Self {
        Self {
            _number: std::marker::PhantomData,
        }
    }

    pub fn plan_fft(&mut self, len: usize, direction: FftDirection) -> Arc<dyn Fft<T>> {
        Arc::new(MixedRadix::new(len, direction))
    }

    pub fn plan_fft_forward(&mut self, len: usize) -> Arc<dyn Fft<T>> {
        self.plan_fft(len, FftDirection::Forward)
    }

    pub fn plan_fft_inverse(&mut self, len: usize) -> Arc<dyn Fft<T>> {
        self.plan_fft(len, FftDirection::Inverse)
    }
}

impl<T: FftNum> Default for FftPlanner<T> {
    fn default() -> Self {
        Self::new()
    }
}

struct MixedRadix<T> {
    len: usize,
    direction: FftDirection,
    /// The radices, outermost first: 4s, then 2, then the odd primes ascending.
    factors: Vec<usize>,
    /// `exp(∓2πi·k/len)` for `k` in `0..len`; every stage's twiddles are a stride through it.
    twiddles: Vec<Complex<T>>,
    /// Room a generic (prime above 5) butterfly needs for its inputs.
    butterfly_scratch: usize,
    /// sin(2π/3), cos(2π/5), cos(4π/5), sin(2π/5), sin(4π/5): the radix-3 and -5 butterflies'.
    sin_60: T,
    cos_72: T,
    cos_144: T,
    sin_72: T,
    sin_144: T,
}

impl<T: FftNum> MixedRadix<T> {
    fn new(len: usize, direction: FftDirection) -> Self {
        let sign = match direction {
            FftDirection::Forward => -1.0,
            FftDirection::Inverse => 1.0,
        };
        let twiddles = (0..len)
            .map(|k| {
                let angle = sign * 2.0 * std::f64::consts::PI * k as f64 / len as f64;
                Complex::new(number(angle.cos()), number(angle.sin()))
            })
            .collect();
        let factors = factorize(len);
        let butterfly_scratch = factors
            .iter()
            .copied()
            .filter(|&p| p > 5)
            .max()
            .unwrap_or(0);
        let turn = |fraction: f64| 2.0 * std::f64::consts::PI * fraction;
        Self {
            len,
            direction,
            factors,
            twiddles,
            butterfly_scratch,
            sin_60: number(turn(1.0 / 3.0).sin()),
            cos_72: number(turn(0.2).cos()),
            cos_144: number(turn(0.4).cos()),
            sin_72: number(turn(0.2).sin()),
            sin_144: number(turn(0.4).sin()),
        }
    }

    /// Point `k` of each of the `R` sub-transforms (each `m` long) in `output`, times its twiddle.
    fn gather<const R: usize>(
        &self,
        output: &[Complex<T>],
        m: usize,
        k: usize,
        twiddle_stride: usize,
    ) -> [Complex<T>; R] {
        // The first twiddle is 1: skip the multiplication.
        std::array::from_fn(|q| match q {
            0 => output[k],
            _ => output[q * m + k] * self.twiddles[q * k * twiddle_stride],
        })
    }

    /// `z` times `ω₄ = ∓i`: a quarter turn, clockwise going forward.
    fn quarter_turn(&self, z: Complex<T>) -> Complex<T> {
        match self.direction {
            FftDirection::Forward => Complex::new(z.im, -z.re),
            FftDirection::Inverse => Complex::new(-z.im, z.re),
        }
    }

    /// The DFT of `input[0], input[stride], …` (`output.len()` points) into `output`.
    /// `twiddle_stride` is `self.len / output.len()`.
    fn transform(
        &self,
        input: &[Complex<T>],
        stride: usize,
        output: &mut [Complex<T>],
        factors: &[usize],
        twiddle_stride: usize,
        scratch: &mut [Complex<T>],
    ) {
        let Some((&radix, inner)) = factors.split_first() else {
            output[0] = input[0];
            return;
        };
        let m = output.len() / radix;
        // Decimation in time: sub-transform q takes every radix-th input from q. The last
        // radix's sub-transforms are single points: copied, not called.
        if inner.is_empty() {
            for (q, point) in output.iter_mut().enumerate() {
                *point = input[q * stride];
            }
        } else {
            for (q, part) in output.chunks_exact_mut(m).enumerate() {
                self.transform(
                    &input[q * stride..],
                    stride * radix,
                    part,
                    inner,
                    twiddle_stride * radix,
                    scratch,
                );
            }
        }
        match radix {
            2 => {
                for k in 0..m {
                    let [a, b] = self.gather(output, m, k, twiddle_stride);
                    output[k] = a + b;
                    output[m + k] = a - b;
                }
            }
            4 => {
                for k in 0..m {
                    let [a, b, c, d] = self.gather(output, m, k, twiddle_stride);
                    let (sum_ac, diff_ac) = (a + c, a - c);
                    let sum_bd = b + d;
                    let turned = self.quarter_turn(b - d);
                    output[k] = sum_ac + sum_bd;
                    output[m + k] = diff_ac + turned;
                    output[2 * m + k] = sum_ac - sum_bd;
                    output[3 * m + k] = diff_ac - turned;
                }
            }
            3 => {
                let half = number::<T>(0.5);
                for k in 0..m {
                    let [a, b, c] = self.gather(output, m, k, twiddle_stride);
                    let sum = b + c;
                    // ω₃ = -1/2 ∓ i·sin 60°.
                    let middle = a - sum * half;
                    let turned = self.quarter_turn(b - c) * self.sin_60;
                    output[k] = a + sum;
                    output[m + k] = middle + turned;
                    output[2 * m + k] = middle - turned;
                }
            }
            5 => {
                for k in 0..m {
                    let [a, b, c, d, e] = self.gather(output, m, k, twiddle_stride);
                    // Pairs symmetric about the middle share cosines and negate sines.
                    let (sum_be, diff_be) = (b + e, b - e);
                    let (sum_cd, diff_cd) = (c + d, c - d);
                    let even_1 = a + sum_be * self.cos_72 + sum_cd * self.cos_144;
                    let even_2 = a + sum_be * self.cos_144 + sum_cd * self.cos_72;
                    let odd_1 = self.quarter_turn(diff_be * self.sin_72 + diff_cd * self.sin_144);
                    let odd_2 = self.quarter_turn(diff_be * self.sin_144 - diff_cd * self.sin_72);
                    output[k] = a + sum_be + sum_cd;
                    output[m + k] = even_1 + odd_1;
                    output[2 * m + k] = even_2 + odd_2;
                    output[3 * m + k] = even_2 - odd_2;
                    output[4 * m + k] = even_1 - odd_1;
                }
            }
            _ => {
                // ω_radix^j is twiddle j·len/radix of the table.
                let root_step = self.len / radix;
                let inputs = &mut scratch[..radix];
                for k in 0..m {
                    for (q, value) in inputs.iter_mut().enumerate() {
                        *value = output[q * m + k] * self.twiddles[q * k * twiddle_stride];
                    }
                    for r in 0..radix {
                        let mut sum = inputs[0];
                        for (q, &value) in inputs.iter().enumerate().skip(1) {
                            sum = sum + value * self.twiddles[(q * r % radix) * root_step];
                        }
                        output[r * m + k] = sum;
                    }
                }
            }
        }
    }
}

impl<T> Length for MixedRadix<T> {
    fn len(&self) -> usize {
        self.len
    }
}

impl<T> Direction for MixedRadix<T> {
    fn fft_direction(&self) -> FftDirection {
        self.direction
    }
}

impl<T: FftNum> Fft<T> for MixedRadix<T> {
    fn process_with_scratch(&self, buffer: &mut [Complex<T>], scratch: &mut [Complex<T>]) {
        let (copy, butterfly) = scratch[..self.get_inplace_scratch_len()].split_at_mut(self.len);
        for chunk in buffer.chunks_exact_mut(self.len) {
            copy.copy_from_slice(chunk);
            self.transform(copy, 1, chunk, &self.factors, 1, butterfly);
        }
        assert_eq!(
            buffer.len() % self.len,
            0,
            "buffer is not a whole number of transforms"
        );
    }

    fn process_outofplace_with_scratch(
        &self,
        input: &mut [Complex<T>],
        output: &mut [Complex<T>],
        scratch: &mut [Complex<T>],
    ) {
        assert_eq!(
            input.len(),
            output.len(),
            "input and output differ in length"
        );
        assert_eq!(
            input.len() % self.len,
            0,
            "input is not a whole number of transforms"
        );
        for (from, to) in input
            .chunks_exact(self.len)
            .zip(output.chunks_exact_mut(self.len))
        {
            self.transform(from, 1, to, &self.factors, 1, scratch);
        }
    }

    fn get_inplace_scratch_len(&self) -> usize {
        self.len + self.butterfly_scratch
    }

    fn get_outofplace_scratch_len(&self) -> usize {
        self.butterfly_scratch
    }
}

fn number<T: FftNum>(value: f64) -> T {
    T::from_f64(value).expect("an FFT number holds any f64 in [-1, 1]")
}

/// `len`'s prime factors, with pairs of 2 merged into 4 (fewer, cheaper passes).
fn factorize(mut len: usize) -> Vec<usize> {
    let mut factors = Vec::new();
    while len % 4 == 0 {
        factors.push(4);
        len /= 4;
    }
    let mut prime = 2;
    while len > 1 {
        while len % prime == 0 {
            factors.push(prime);
            len /= prime;
        }
        prime += 1;
    }
    factors
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, O(n²), in f64.
    fn reference_dft(input: &[Complex<f64>], direction: FftDirection) -> Vec<Complex<f64>> {
        let n = input.len();
        let sign = if direction == FftDirection::Forward {
            -1.0
        } else {
            1.0
        };
        (0..n)
            .map(|k| {
                input
                    .iter()
                    .enumerate()
                    .fold(Complex::zero(), |sum, (t, &x)| {
                        let angle =
                            sign * 2.0 * std::f64::consts::PI * (t * k % n) as f64 / n as f64;
                        sum + x * Complex::new(angle.cos(), angle.sin())
                    })
            })
            .collect()
    }

    fn signal(n: usize) -> Vec<Complex<f64>> {
        // Deterministic, irregular values (a simple LCG), so no symmetry hides an error.
        let mut state = 0x2545_f491_u32;
        let mut next = move || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            f64::from(state >> 8) / f64::from(1_u32 << 24) - 0.5
        };
        (0..n).map(|_| Complex::new(next(), next())).collect()
    }

    fn max_error(a: &[Complex<f64>], b: &[Complex<f64>]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).norm())
            .fold(0.0, f64::max)
    }

    #[test]
    fn matches_the_definition_for_every_kind_of_length() {
        // 480 and 960 are what nnnoiseless uses; the rest reach every butterfly and prime > 5.
        for n in [
            1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 30, 49, 64, 77, 120, 480, 960,
        ] {
            for direction in [FftDirection::Forward, FftDirection::Inverse] {
                let input = signal(n);
                let expected = reference_dft(&input, direction);
                let fft = FftPlanner::<f64>::new().plan_fft(n, direction);

                let mut in_place = input.clone();
                fft.process(&mut in_place);
                assert!(
                    max_error(&in_place, &expected) < 1e-9 * n as f64,
                    "n = {n} {direction:?}"
                );

                let mut source = input.clone();
                let mut output = vec![Complex::zero(); n];
                let mut scratch = vec![Complex::zero(); fft.get_outofplace_scratch_len()];
                fft.process_outofplace_with_scratch(&mut source, &mut output, &mut scratch);
                assert!(
                    max_error(&output, &expected) < 1e-9 * n as f64,
                    "n = {n} {direction:?}"
                );
                assert_eq!(source, input, "out of place leaves the input alone");
            }
        }
    }

    #[test]
    fn forward_then_inverse_returns_the_input_times_n_in_f32() {
        let n = 480;
        let input: Vec<Complex<f32>> = signal(n)
            .iter()
            .map(|x| Complex::new(x.re as f32, x.im as f32))
            .collect();
        let mut planner = FftPlanner::<f32>::new();
        let mut buffer = input.clone();
        planner.plan_fft_forward(n).process(&mut buffer);
        planner.plan_fft_inverse(n).process(&mut buffer);
        for (x, y) in buffer.iter().zip(&input) {
            assert!((x / n as f32 - y).norm() < 1e-5);
        }
    }

    #[test]
    fn processes_several_transforms_back_to_back() {
        let fft = FftPlanner::<f64>::new().plan_fft_forward(12);
        let input = signal(36);
        let mut buffer = input.clone();
        fft.process(&mut buffer);
        for (chunk, source) in buffer.chunks(12).zip(input.chunks(12)) {
            assert!(max_error(chunk, &reference_dft(source, FftDirection::Forward)) < 1e-9);
        }
    }
}
