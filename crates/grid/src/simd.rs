//! The float types the gridder runs in, their SIMD vectors (through `pulp`), the runtime
//! choice of instruction set, and a vectorised `sincos` of angles given in turns.

use num_complex::Complex;
use pulp::Simd;
use std::fmt::Debug;
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

/// Which instruction set the hot loops use.
///
/// `Auto` picks the best one the CPU has (AVX-512, else AVX2+FMA on x86-64; NEON on
/// aarch64) unless the environment variable `CONTIMG_GRID_SIMD` says otherwise
/// (`scalar`, `avx2`, `avx512`, `auto`). The other variants force a path, which is how the
/// tests compare them; a forced path the CPU lacks falls back to `Scalar`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SimdMode {
    #[default]
    Auto,
    /// Plain scalar code (also the FFT: rustfft's scalar planner).
    Scalar,
    /// x86-64 AVX2 + FMA (pulp's V3).
    Avx2,
    /// x86-64 AVX-512 (pulp's V4).
    Avx512,
}

/// The path a `SimdMode` resolves to on this machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimdPath {
    Scalar,
    Avx2,
    Avx512,
    Neon,
}

impl SimdMode {
    /// Resolves `Auto` (and the environment override) to a concrete path.
    pub fn resolve(self) -> SimdPath {
        let mode = match self {
            SimdMode::Auto => match std::env::var("CONTIMG_GRID_SIMD").ok().as_deref() {
                Some("scalar") => SimdMode::Scalar,
                Some("avx2") | Some("v3") => SimdMode::Avx2,
                Some("avx512") | Some("v4") => SimdMode::Avx512,
                _ => SimdMode::Auto,
            },
            m => m,
        };
        #[cfg(target_arch = "x86_64")]
        {
            let v4 = pulp::x86::V4::try_new().is_some();
            let v3 = pulp::x86::V3::try_new().is_some();
            match mode {
                SimdMode::Scalar => SimdPath::Scalar,
                SimdMode::Avx512 if v4 => SimdPath::Avx512,
                SimdMode::Avx2 if v3 => SimdPath::Avx2,
                SimdMode::Auto if v4 => SimdPath::Avx512,
                SimdMode::Auto if v3 => SimdPath::Avx2,
                _ => SimdPath::Scalar,
            }
        }
        #[cfg(target_arch = "aarch64")]
        {
            // NEON is part of the aarch64 baseline.
            match mode {
                SimdMode::Scalar | SimdMode::Avx2 | SimdMode::Avx512 => SimdPath::Scalar,
                SimdMode::Auto => SimdPath::Neon,
            }
        }
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        {
            let _ = mode;
            SimdPath::Scalar
        }
    }
}

/// Runs `op` with the SIMD token of `path`.
#[inline]
pub(crate) fn dispatch<Op: pulp::WithSimd>(path: SimdPath, op: Op) -> Op::Output {
    match path {
        #[cfg(target_arch = "x86_64")]
        SimdPath::Avx512 => match pulp::x86::V4::try_new() {
            Some(s) => Simd::vectorize(s, op),
            None => op.with_simd(pulp::Scalar),
        },
        #[cfg(target_arch = "x86_64")]
        SimdPath::Avx2 => match pulp::x86::V3::try_new() {
            Some(s) => Simd::vectorize(s, op),
            None => op.with_simd(pulp::Scalar),
        },
        #[cfg(target_arch = "aarch64")]
        SimdPath::Neon => pulp::Arch::new().dispatch(op),
        _ => op.with_simd(pulp::Scalar),
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// `f32` or `f64`: the precision of the visibilities, the image and the arithmetic.
///
/// The items marked hidden are the SIMD vocabulary of the hot loops.
pub trait GridFloat:
    sealed::Sealed
    + Copy
    + Default
    + Send
    + Sync
    + 'static
    + Debug
    + PartialEq
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + rustfft::FftNum
{
    const ZERO: Self;
    const ONE: Self;
    /// True for `f64`.
    const IS_F64: bool;
    /// Relative rounding unit.
    const EPS: f64;
    fn cast_from(x: f64) -> Self;
    fn as_f64(self) -> f64;

    #[doc(hidden)]
    type V<S: Simd>: Copy;
    #[doc(hidden)]
    fn lanes<S: Simd>() -> usize;
    #[doc(hidden)]
    fn vsplat<S: Simd>(s: S, x: Self) -> Self::V<S>;
    #[doc(hidden)]
    fn vadd<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S>;
    #[doc(hidden)]
    fn vsub<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S>;
    #[doc(hidden)]
    fn vmul<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S>;
    /// `a·b + c` (fused where the instruction set has FMA).
    #[doc(hidden)]
    fn vfma<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>, c: Self::V<S>) -> Self::V<S>;
    #[doc(hidden)]
    fn vsqrt<S: Simd>(s: S, a: Self::V<S>) -> Self::V<S>;
    #[doc(hidden)]
    fn vdiv<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S>;
    #[doc(hidden)]
    fn vsum<S: Simd>(s: S, a: Self::V<S>) -> Self;
    /// `[re, im, re, im, …]` (needs an even number of lanes).
    #[doc(hidden)]
    fn vsplat_pair<S: Simd>(s: S, re: Self, im: Self) -> Self::V<S>;
    /// `(Σ even lanes, Σ odd lanes)` (needs an even number of lanes).
    #[doc(hidden)]
    fn vsum_pairs<S: Simd>(s: S, a: Self::V<S>) -> (Self, Self);
    /// Unaligned load of `lanes` values.
    ///
    /// # Safety
    /// `p..p+lanes` must be readable.
    #[doc(hidden)]
    unsafe fn vload<S: Simd>(p: *const Self) -> Self::V<S>;
    /// Unaligned store of `lanes` values.
    ///
    /// # Safety
    /// `p..p+lanes` must be writable.
    #[doc(hidden)]
    unsafe fn vstore<S: Simd>(p: *mut Self, v: Self::V<S>);
}

macro_rules! impl_float {
    ($t:ty, $is64:expr, $eps:expr, $vs:ident, $splat:ident, $add:ident, $sub:ident, $mul:ident,
     $fma:ident, $sqrt:ident, $div:ident, $sum:ident, $lanes:ident,
     $cs:ident, $csplat:ident, $csum:ident) => {
        impl GridFloat for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const IS_F64: bool = $is64;
            const EPS: f64 = $eps;
            #[inline(always)]
            fn cast_from(x: f64) -> Self {
                x as $t
            }
            #[inline(always)]
            fn as_f64(self) -> f64 {
                self as f64
            }
            type V<S: Simd> = S::$vs;
            #[inline(always)]
            fn lanes<S: Simd>() -> usize {
                S::$lanes
            }
            #[inline(always)]
            fn vsplat<S: Simd>(s: S, x: Self) -> Self::V<S> {
                s.$splat(x)
            }
            #[inline(always)]
            fn vadd<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S> {
                s.$add(a, b)
            }
            #[inline(always)]
            fn vsub<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S> {
                s.$sub(a, b)
            }
            #[inline(always)]
            fn vmul<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S> {
                s.$mul(a, b)
            }
            #[inline(always)]
            fn vfma<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>, c: Self::V<S>) -> Self::V<S> {
                s.$fma(a, b, c)
            }
            #[inline(always)]
            fn vsqrt<S: Simd>(s: S, a: Self::V<S>) -> Self::V<S> {
                s.$sqrt(a)
            }
            #[inline(always)]
            fn vdiv<S: Simd>(s: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S> {
                s.$div(a, b)
            }
            #[inline(always)]
            fn vsum<S: Simd>(s: S, a: Self::V<S>) -> Self {
                s.$sum(a)
            }
            #[inline(always)]
            fn vsplat_pair<S: Simd>(s: S, re: Self, im: Self) -> Self::V<S> {
                debug_assert!(S::$lanes >= 2);
                let c = s.$csplat(Complex::new(re, im));
                // SAFETY: with an even number of lanes the complex and the real vector have
                // the same size and both are plain old data.
                unsafe { core::mem::transmute_copy::<S::$cs, S::$vs>(&c) }
            }
            #[inline(always)]
            fn vsum_pairs<S: Simd>(s: S, a: Self::V<S>) -> (Self, Self) {
                debug_assert!(S::$lanes >= 2);
                // SAFETY: as in vsplat_pair.
                let c = unsafe { core::mem::transmute_copy::<S::$vs, S::$cs>(&a) };
                let r = s.$csum(c);
                (r.re, r.im)
            }
            #[inline(always)]
            unsafe fn vload<S: Simd>(p: *const Self) -> Self::V<S> {
                unsafe { (p as *const S::$vs).read_unaligned() }
            }
            #[inline(always)]
            unsafe fn vstore<S: Simd>(p: *mut Self, v: Self::V<S>) {
                unsafe { (p as *mut S::$vs).write_unaligned(v) }
            }
        }
    };
}

impl_float!(f32, false, 5.96e-8, f32s, splat_f32s, add_f32s, sub_f32s, mul_f32s,
    mul_add_e_f32s, sqrt_f32s, div_f32s, reduce_sum_f32s, F32_LANES, c32s, splat_c32s, reduce_sum_c32s);
impl_float!(f64, true, 1.11e-16, f64s, splat_f64s, add_f64s, sub_f64s, mul_f64s,
    mul_add_e_f64s, sqrt_f64s, div_f64s, reduce_sum_f64s, F64_LANES, c64s, splat_c64s, reduce_sum_c64s);

/// `(cos 2πt, sin 2πt)` for a vector of angles `t` in turns with `|t| ≤ 1/2`:
/// Taylor series of `sin πt`, `cos πt` on `|πt| ≤ π/2`, then the double-angle formulas.
/// Accurate to a few units of the last place in either precision.
#[inline(always)]
pub(crate) fn sincos_turns<T: GridFloat, S: Simd>(s: S, t: T::V<S>) -> (T::V<S>, T::V<S>) {
    let x = T::vmul(s, t, T::vsplat(s, T::cast_from(std::f64::consts::PI)));
    let x2 = T::vmul(s, x, x);
    // sin(x) = x·(1 − x²/3! + x⁴/5! − …), cos(x) = 1 − x²/2! + …
    let (ns, nc) = if T::IS_F64 { (11, 12) } else { (7, 8) };
    // sin: coefficients of x^(2k) in sin(x)/x, highest first
    let mut sp = T::vsplat(s, T::ZERO);
    for k in (0..ns).rev() {
        let c = sin_coef(k);
        sp = T::vfma(s, sp, x2, T::vsplat(s, T::cast_from(c)));
    }
    let sn = T::vmul(s, sp, x);
    let mut cp = T::vsplat(s, T::ZERO);
    for k in (0..nc).rev() {
        let c = cos_coef(k);
        cp = T::vfma(s, cp, x2, T::vsplat(s, T::cast_from(c)));
    }
    // cos 2x = 1 − 2 sin²x ; sin 2x = 2 sin x cos x
    let two = T::vsplat(s, T::cast_from(2.0));
    let sn2 = T::vmul(s, sn, sn);
    let c2 = T::vsub(s, T::vsplat(s, T::ONE), T::vmul(s, two, sn2));
    let s2 = T::vmul(s, two, T::vmul(s, sn, cp));
    (c2, s2)
}

#[inline(always)]
const fn sin_coef(k: usize) -> f64 {
    // (−1)^k / (2k+1)!
    const C: [f64; 11] = [
        1.0,
        -1.0 / 6.0,
        1.0 / 120.0,
        -1.0 / 5040.0,
        1.0 / 362880.0,
        -1.0 / 39916800.0,
        1.0 / 6227020800.0,
        -1.0 / 1307674368000.0,
        1.0 / 355687428096000.0,
        -1.0 / 121645100408832000.0,
        1.0 / 51090942171709440000.0,
    ];
    C[k]
}

#[inline(always)]
const fn cos_coef(k: usize) -> f64 {
    // (−1)^k / (2k)!
    const C: [f64; 12] = [
        1.0,
        -1.0 / 2.0,
        1.0 / 24.0,
        -1.0 / 720.0,
        1.0 / 40320.0,
        -1.0 / 3628800.0,
        1.0 / 479001600.0,
        -1.0 / 87178291200.0,
        1.0 / 20922789888000.0,
        -1.0 / 6402373705728000.0,
        1.0 / 2432902008176640000.0,
        -1.0 / 1124000727777607680000.0,
    ];
    C[k]
}

/// Fills `out[i] = exp(2πi·t[i])` for angles `t` in turns (any size: reduced in f64 first).
#[inline(always)]
pub(crate) fn expi_turns<T: GridFloat, S: Simd>(s: S, t: &[f64], out: &mut [Complex<T>]) {
    let l = T::lanes::<S>();
    let mut buf = [T::ZERO; 64];
    let mut cbuf = [T::ZERO; 64];
    let mut sbuf = [T::ZERO; 64];
    debug_assert!(l <= 64);
    let n = t.len();
    let mut i = 0;
    while i < n {
        let m = (n - i).min(l);
        for k in 0..m {
            let v = t[i + k];
            buf[k] = T::cast_from(v - v.round());
        }
        for b in buf.iter_mut().take(l).skip(m) {
            *b = T::ZERO;
        }
        // SAFETY: buf, cbuf and sbuf hold at least `l` values.
        unsafe {
            let (c, sn) = sincos_turns::<T, S>(s, T::vload::<S>(buf.as_ptr()));
            T::vstore::<S>(cbuf.as_mut_ptr(), c);
            T::vstore::<S>(sbuf.as_mut_ptr(), sn);
        }
        for k in 0..m {
            out[i + k] = Complex::new(cbuf[k], sbuf[k]);
        }
        i += m;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Probe<'a, T: GridFloat>(&'a [f64], &'a mut [Complex<T>]);
    impl<T: GridFloat> pulp::WithSimd for Probe<'_, T> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: Simd>(self, s: S) {
            expi_turns::<T, S>(s, self.0, self.1)
        }
    }

    fn check<T: GridFloat>(path: SimdPath, tol: f64) {
        let t: Vec<f64> = (0..1001).map(|i| -3.7 + i as f64 * 0.00731).collect();
        let mut out = vec![Complex::new(T::ZERO, T::ZERO); t.len()];
        dispatch(path, Probe(&t, &mut out));
        for (ti, o) in t.iter().zip(&out) {
            let a = 2.0 * std::f64::consts::PI * (ti - ti.round());
            assert!((o.re.as_f64() - a.cos()).abs() < tol, "{path:?} {ti} {} {}", o.re.as_f64(), a.cos());
            assert!((o.im.as_f64() - a.sin()).abs() < tol, "{path:?} {ti}");
        }
    }

    #[test]
    fn sincos_all_paths() {
        for p in [SimdPath::Scalar, SimdMode::Avx2.resolve(), SimdMode::Avx512.resolve()] {
            check::<f64>(p, 2e-15);
            check::<f32>(p, 6e-7);
        }
    }
}
