//! The header count validation over any integers a file could hold.
//!
//! Whatever it accepts must be safe to size buffers and index with: every count positive,
//! Ntimes ≤ Nblts, Nspws ≤ Nfreqs, and Nblts × Nfreqs × Npols × 16 bytes without overflow.
#![no_main]

use libfuzzer_sys::fuzz_target;
use uvh5::fuzzing::{validate_counts, RawCounts};

fuzz_target!(|data: &[u8]| {
    let mut words = data.chunks(8).map(|c| {
        let mut b = [0u8; 8];
        b[..c.len()].copy_from_slice(c);
        i64::from_le_bytes(b)
    });
    let mut next = || words.next().unwrap_or(1);
    let raw = RawCounts {
        n_blts: next(),
        n_times: next(),
        n_freqs: next(),
        n_pols: next(),
        n_spws: next(),
        n_bls: Some(next()).filter(|v| v % 3 != 0),
        n_ants_data: Some(next()).filter(|v| v % 3 != 0),
    };
    if let Ok(c) = validate_counts(&raw) {
        assert!(c.n_blts >= 1 && c.n_times >= 1 && c.n_freqs >= 1 && c.n_pols >= 1 && c.n_spws >= 1);
        assert!(c.n_times <= c.n_blts && c.n_spws <= c.n_freqs);
        let bytes = c.n_blts.checked_mul(c.n_freqs).and_then(|v| v.checked_mul(c.n_pols)).and_then(|v| v.checked_mul(16));
        assert!(bytes.is_some_and(|b| b <= i64::MAX as usize));
        assert!(c.n_bls.is_none_or(|b| (1..=c.n_blts).contains(&b)));
    } else {
        // Refusals never come from valid small counts.
        assert!(!(raw.n_blts == 24 && raw.n_times == 24 && raw.n_freqs == 48 && raw.n_pols == 2 && raw.n_spws == 1
            && raw.n_bls.is_none_or(|b| b == 1) && raw.n_ants_data.is_none_or(|a| a == 2)));
    }
});
