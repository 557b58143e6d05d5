//! How UVH5 elements are stored, and decoding them into the types contimg works in.

/// How one element is encoded on disk (all little-endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem {
    /// Compound {r, i} of float32.
    ComplexF32,
    /// Compound {r, i} of float64.
    ComplexF64,
    /// Compound {r, i} of signed integers of this many bytes.
    ComplexInt(usize),
    /// One byte, non-zero = true (HDF5/h5py booleans are an int8 enum).
    Bool,
    F32,
    F64,
}

impl Elem {
    pub fn size(&self) -> usize {
        match self {
            Elem::ComplexF32 => 8,
            Elem::ComplexF64 => 16,
            Elem::ComplexInt(n) => 2 * n,
            Elem::Bool => 1,
            Elem::F32 => 4,
            Elem::F64 => 8,
        }
    }
}

/// Decodes `n` elements from `src` into `dst` (`dst.len() == n`).
pub trait Decode: Sized + Copy + Default + Send + Sync {
    fn decode(elem: Elem, src: &[u8], dst: &mut [Self]);

    /// One element from the first `elem.size()` bytes of `src`.
    #[inline]
    fn decode_one(elem: Elem, src: &[u8]) -> Self {
        let mut v = [Self::default()];
        Self::decode(elem, src, &mut v);
        v[0]
    }

    /// `N` consecutive elements from the first `N * elem.size()` bytes of `src`. A fixed `N`
    /// lets the native encodings compile to one unaligned load and store (a polarisation run
    /// of two Complex32 is one 16-byte move) instead of a `memcpy` call per run.
    #[inline(always)]
    fn decode_n<const N: usize>(elem: Elem, src: &[u8]) -> [Self; N] {
        let mut v = [Self::default(); N];
        Self::decode(elem, src, &mut v);
        v
    }
}

impl Decode for num_complex::Complex32 {
    #[inline(always)]
    fn decode_n<const N: usize>(elem: Elem, src: &[u8]) -> [Self; N] {
        #[cfg(target_endian = "little")]
        if elem == Elem::ComplexF32 {
            assert!(src.len() >= N * 8);
            // SAFETY: N * 8 readable bytes (checked); every bit pattern is a valid Complex32.
            return unsafe { std::ptr::read_unaligned(src.as_ptr().cast::<[Self; N]>()) };
        }
        let mut v = [Self::default(); N];
        Self::decode(elem, src, &mut v);
        v
    }

    #[inline(always)]
    fn decode_one(elem: Elem, src: &[u8]) -> Self {
        #[cfg(target_endian = "little")]
        if elem == Elem::ComplexF32 {
            assert!(src.len() >= 8);
            // SAFETY: 8 readable bytes (checked); every bit pattern is a valid Complex32.
            return unsafe { std::ptr::read_unaligned(src.as_ptr().cast::<Self>()) };
        }
        let mut v = [Self::default()];
        Self::decode(elem, src, &mut v);
        v[0]
    }

    fn decode(elem: Elem, src: &[u8], dst: &mut [Self]) {
        match elem {
            #[cfg(target_endian = "little")]
            Elem::ComplexF32 => {
                // Same bytes on a little-endian host: a plain copy.
                let n = dst.len() * 8;
                assert!(src.len() >= n);
                // SAFETY: Complex32 is repr(C) {re: f32, im: f32}; every bit pattern is valid;
                // the lengths were checked above.
                unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst.as_mut_ptr().cast::<u8>(), n) };
            }
            #[cfg(not(target_endian = "little"))]
            Elem::ComplexF32 => {
                for (d, s) in dst.iter_mut().zip(src.chunks_exact(8)) {
                    let r = f32::from_le_bytes([s[0], s[1], s[2], s[3]]);
                    let i = f32::from_le_bytes([s[4], s[5], s[6], s[7]]);
                    *d = num_complex::Complex32::new(r, i);
                }
            }
            Elem::ComplexF64 => {
                for (d, s) in dst.iter_mut().zip(src.chunks_exact(16)) {
                    let r = f64::from_le_bytes(s[0..8].try_into().unwrap());
                    let i = f64::from_le_bytes(s[8..16].try_into().unwrap());
                    *d = num_complex::Complex32::new(r as f32, i as f32);
                }
            }
            Elem::ComplexInt(n) => {
                let int = |b: &[u8]| -> f32 {
                    match n {
                        1 => b[0] as i8 as f32,
                        2 => i16::from_le_bytes([b[0], b[1]]) as f32,
                        4 => i32::from_le_bytes(b[0..4].try_into().unwrap()) as f32,
                        _ => i64::from_le_bytes(b[0..8].try_into().unwrap()) as f32,
                    }
                };
                for (d, s) in dst.iter_mut().zip(src.chunks_exact(2 * n)) {
                    *d = num_complex::Complex32::new(int(&s[..n]), int(&s[n..]));
                }
            }
            _ => unreachable!("visdata decoded as {elem:?}"),
        }
    }
}

impl Decode for bool {
    #[inline(always)]
    fn decode_n<const N: usize>(_elem: Elem, src: &[u8]) -> [Self; N] {
        let src = &src[..N];
        std::array::from_fn(|i| src[i] != 0)
    }

    #[inline(always)]
    fn decode_one(_elem: Elem, src: &[u8]) -> Self {
        src[0] != 0
    }

    fn decode(_elem: Elem, src: &[u8], dst: &mut [Self]) {
        for (d, s) in dst.iter_mut().zip(src) {
            *d = *s != 0;
        }
    }
}

impl Decode for f32 {
    #[inline(always)]
    fn decode_n<const N: usize>(elem: Elem, src: &[u8]) -> [Self; N] {
        #[cfg(target_endian = "little")]
        if elem == Elem::F32 {
            assert!(src.len() >= N * 4);
            // SAFETY: N * 4 readable bytes (checked); any 4 bytes are a valid f32.
            return unsafe { std::ptr::read_unaligned(src.as_ptr().cast::<[Self; N]>()) };
        }
        let mut v = [Self::default(); N];
        Self::decode(elem, src, &mut v);
        v
    }

    #[inline(always)]
    fn decode_one(elem: Elem, src: &[u8]) -> Self {
        if elem == Elem::F32 {
            f32::from_le_bytes([src[0], src[1], src[2], src[3]])
        } else {
            f64::from_le_bytes(src[..8].try_into().expect("8 bytes")) as f32
        }
    }

    fn decode(elem: Elem, src: &[u8], dst: &mut [Self]) {
        match elem {
            #[cfg(target_endian = "little")]
            Elem::F32 => {
                let n = dst.len() * 4;
                assert!(src.len() >= n);
                // SAFETY: any 4 bytes are a valid f32; lengths checked above.
                unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst.as_mut_ptr().cast::<u8>(), n) };
            }
            #[cfg(not(target_endian = "little"))]
            Elem::F32 => {
                for (d, s) in dst.iter_mut().zip(src.chunks_exact(4)) {
                    *d = f32::from_le_bytes([s[0], s[1], s[2], s[3]]);
                }
            }
            Elem::F64 => {
                for (d, s) in dst.iter_mut().zip(src.chunks_exact(8)) {
                    *d = f64::from_le_bytes(s.try_into().unwrap()) as f32;
                }
            }
            _ => unreachable!("nsamples decoded as {elem:?}"),
        }
    }
}
