//! The header's dimension counts (Nblts, Ntimes, Nfreqs, Npols, Nspws, Nbls, Nants_data),
//! checked before anything is sized or indexed from them.
//!
//! The counts are signed integers in the file. Cast straight to `usize`, a negative Ntimes
//! became 18446744073709551613 in messages and a huge Nblts sized buffers; here each is checked
//! as the number it is, against the others, and the products the readers compute are checked
//! not to overflow. A plain struct in and out, so it is fuzzable without a file.

/// The counts as stored (any integer a file can hold).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawCounts {
    pub n_blts: i64,
    pub n_times: i64,
    pub n_freqs: i64,
    pub n_pols: i64,
    pub n_spws: i64,
    /// Optional in the file (computed from the antenna arrays when absent).
    pub n_bls: Option<i64>,
    pub n_ants_data: Option<i64>,
}

/// Counts that are positive, mutually consistent and small enough for every product the
/// readers form (elements × 16 bytes fits in 63 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub n_blts: usize,
    pub n_times: usize,
    pub n_freqs: usize,
    pub n_pols: usize,
    pub n_spws: usize,
    pub n_bls: Option<usize>,
    pub n_ants_data: Option<usize>,
}

/// What is wrong with one count, for `Uvh5Error::BadValue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountError {
    /// The header key, e.g. "Ntimes".
    pub name: &'static str,
    pub value: i64,
    pub expected: String,
}

/// Distinct polarisation codes (AIPS: -8..-1 linear and circular, 1..4 Stokes).
pub const MAX_POLS: i64 = 12;
/// Bytes of the widest element (complex128), for the overflow check.
const MAX_ELEM_BYTES: u128 = 16;

pub fn validate(raw: &RawCounts) -> Result<Counts, CountError> {
    let err = |name: &'static str, value: i64, expected: String| Err(CountError { name, value, expected });
    for (name, value, what) in [
        ("Nblts", raw.n_blts, "baseline-times"),
        ("Ntimes", raw.n_times, "unique times"),
        ("Nfreqs", raw.n_freqs, "channels"),
        ("Npols", raw.n_pols, "polarisations"),
        ("Nspws", raw.n_spws, "spectral windows"),
    ] {
        if value < 1 {
            return err(name, value, format!("a positive number of {what}"));
        }
    }
    if raw.n_times > raw.n_blts {
        return err("Ntimes", raw.n_times, format!("at most Nblts = {}", raw.n_blts));
    }
    if raw.n_spws > raw.n_freqs {
        return err("Nspws", raw.n_spws, format!("at most Nfreqs = {}", raw.n_freqs));
    }
    if raw.n_pols > MAX_POLS {
        return err("Npols", raw.n_pols, format!("at most {MAX_POLS} (the distinct polarisation codes)"));
    }
    // Three 63-bit factors can overflow even u128 (found by fuzzing): multiply checked.
    let bytes = (raw.n_blts as u128)
        .checked_mul(raw.n_freqs as u128)
        .and_then(|v| v.checked_mul(raw.n_pols as u128))
        .and_then(|v| v.checked_mul(MAX_ELEM_BYTES));
    if bytes.is_none_or(|b| b > i64::MAX as u128 || b > usize::MAX as u128) {
        // Name the count that makes the product absurd: the largest of the three.
        let (name, value) = [("Nblts", raw.n_blts), ("Nfreqs", raw.n_freqs), ("Npols", raw.n_pols)]
            .into_iter()
            .max_by_key(|&(_, v)| v)
            .unwrap_or(("Nblts", raw.n_blts));
        return err(
            name,
            value,
            format!(
                "a size the data can have: Nblts × Nfreqs × Npols = {} × {} × {} overflows",
                raw.n_blts, raw.n_freqs, raw.n_pols
            ),
        );
    }
    let n_bls = match raw.n_bls {
        Some(v) if v < 1 || v > raw.n_blts => {
            return err("Nbls", v, format!("between 1 and Nblts = {}", raw.n_blts));
        }
        other => other.map(|v| v as usize),
    };
    let n_ants_data = match raw.n_ants_data {
        // Each baseline involves at most 2 antennas, so Nants_data ≤ 2 Nblts.
        Some(v) if v < 1 || v > 2 * raw.n_blts => {
            return err("Nants_data", v, format!("between 1 and 2 × Nblts = {}", 2 * raw.n_blts as i128));
        }
        other => other.map(|v| v as usize),
    };
    Ok(Counts {
        n_blts: raw.n_blts as usize,
        n_times: raw.n_times as usize,
        n_freqs: raw.n_freqs as usize,
        n_pols: raw.n_pols as usize,
        n_spws: raw.n_spws as usize,
        n_bls,
        n_ants_data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dsa() -> RawCounts {
        RawCounts { n_blts: 4656 * 24, n_times: 24, n_freqs: 48, n_pols: 2, n_spws: 1, n_bls: Some(4656), n_ants_data: Some(96) }
    }

    #[test]
    fn a_real_header_passes_unchanged() {
        let c = validate(&dsa()).unwrap();
        assert_eq!((c.n_blts, c.n_times, c.n_freqs, c.n_pols, c.n_spws), (111744, 24, 48, 2, 1));
        assert_eq!((c.n_bls, c.n_ants_data), (Some(4656), Some(96)));
    }

    #[test]
    fn negative_zero_and_huge_counts_are_named_with_their_signed_value() {
        let e = validate(&RawCounts { n_times: -3, ..dsa() }).unwrap_err();
        assert_eq!((e.name, e.value), ("Ntimes", -3));
        assert!(e.expected.contains("positive"), "{e:?}");
        let e = validate(&RawCounts { n_blts: 0, ..dsa() }).unwrap_err();
        assert_eq!((e.name, e.value), ("Nblts", 0));
        let e = validate(&RawCounts { n_freqs: -1, ..dsa() }).unwrap_err();
        assert_eq!((e.name, e.value), ("Nfreqs", -1));
        let e = validate(&RawCounts { n_freqs: 1 << 62, ..dsa() }).unwrap_err();
        assert_eq!((e.name, e.value), ("Nfreqs", 1 << 62));
        assert!(e.expected.contains("overflows"), "{e:?}");
        // All three near 2^63: the product overflows u128 itself (a fuzz finding).
        let max = RawCounts { n_blts: i64::MAX, n_times: 1, n_freqs: i64::MAX, n_pols: 12, n_spws: 1, n_bls: None, n_ants_data: None };
        assert!(validate(&max).unwrap_err().expected.contains("overflows"));
        let e = validate(&RawCounts { n_times: 200_000, ..dsa() }).unwrap_err();
        assert_eq!((e.name, e.expected.as_str()), ("Ntimes", "at most Nblts = 111744"));
        let e = validate(&RawCounts { n_pols: 1 << 40, ..dsa() }).unwrap_err();
        assert_eq!(e.name, "Npols");
        let e = validate(&RawCounts { n_bls: Some(-7), ..dsa() }).unwrap_err();
        assert_eq!((e.name, e.value), ("Nbls", -7));
        let e = validate(&RawCounts { n_ants_data: Some(i64::MAX), ..dsa() }).unwrap_err();
        assert_eq!(e.name, "Nants_data");
    }
}
