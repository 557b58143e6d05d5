//! Counting the distinct values of a header's per-row arrays (Nblts long: 111,744 rows in a
//! DSA-110 file), which every open checks against the header's counts. Sorting copies of them
//! took a third of an open; these take one pass in the usual cases — times in order, antenna
//! numbers small — and sort only otherwise.

/// Antenna numbers below this are counted in bitmaps (the baseline bitmap then takes at most
/// 2 MiB); larger or negative ones fall back to sorting.
const SMALL: i64 = 4096;

/// Distinct times (compared bit for bit, as `Ntimes` counts them).
pub(crate) fn distinct_times(times_jd: &[f64]) -> usize {
    let in_order = times_jd.windows(2).all(|w| w[0].to_bits() <= w[1].to_bits());
    if in_order {
        return times_jd.len().min(1) + times_jd.windows(2).filter(|w| w[0].to_bits() != w[1].to_bits()).count();
    }
    sorted_distinct(times_jd.iter().map(|t| t.to_bits()))
}

/// Distinct antennas among both columns of the baselines.
pub(crate) fn distinct_antennas(ant_1: &[i64], ant_2: &[i64]) -> usize {
    let all = || ant_1.iter().chain(ant_2).copied();
    match small_bound(all()) {
        Some(n) => {
            let mut seen = Bitmap::new(n);
            all().filter(|&a| seen.insert(a as usize)).count()
        }
        None => sorted_distinct(all()),
    }
}

/// Distinct (ant_1, ant_2) pairs.
pub(crate) fn distinct_baselines(ant_1: &[i64], ant_2: &[i64]) -> usize {
    let pairs = || ant_1.iter().zip(ant_2);
    match small_bound(ant_1.iter().chain(ant_2).copied()) {
        Some(n) => {
            let mut seen = Bitmap::new(n * n);
            pairs().filter(|(&a, &b)| seen.insert(a as usize * n + b as usize)).count()
        }
        None => sorted_distinct(pairs().map(|(&a, &b)| (a, b))),
    }
}

/// The first value of `used` that `known` lacks.
pub(crate) fn first_unknown(known: &[i64], mut used: impl Iterator<Item = i64>) -> Option<i64> {
    match small_bound(known.iter().copied()) {
        Some(n) => {
            let mut set = Bitmap::new(n);
            known.iter().for_each(|&k| {
                set.insert(k as usize);
            });
            used.find(|&a| !(0..n as i64).contains(&a) || !set.contains(a as usize))
        }
        None => {
            let mut sorted = known.to_vec();
            sorted.sort_unstable();
            used.find(|a| sorted.binary_search(a).is_err())
        }
    }
}

/// max + 1 when every value lies in 0..SMALL (1 for none), else None.
fn small_bound(values: impl Iterator<Item = i64>) -> Option<usize> {
    let mut max = -1;
    for v in values {
        if !(0..SMALL).contains(&v) {
            return None;
        }
        max = max.max(v);
    }
    Some((max + 1).max(1) as usize)
}

fn sorted_distinct<T: Ord>(values: impl Iterator<Item = T>) -> usize {
    let mut v: Vec<T> = values.collect();
    v.sort_unstable();
    v.dedup();
    v.len()
}

struct Bitmap(Vec<u64>);

impl Bitmap {
    fn new(bits: usize) -> Self {
        Bitmap(vec![0; bits.div_ceil(64)])
    }

    /// Sets bit `i`; true if it was clear.
    fn insert(&mut self, i: usize) -> bool {
        let (word, bit) = (i / 64, 1u64 << (i % 64));
        let was_clear = self.0[word] & bit == 0;
        self.0[word] |= bit;
        was_clear
    }

    fn contains(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each count against plain sorting, on small and out-of-range antenna numbers and on
    /// times in and out of order.
    #[test]
    fn counts_agree_with_sorting() {
        let cases: [(Vec<i64>, Vec<i64>); 5] = [
            (vec![], vec![]),
            (vec![0, 0, 1, 5, 5], vec![0, 1, 1, 7, 5]),
            (vec![3, 2, 1], vec![1, 2, 3]),
            (vec![-1, 4, 4], vec![2, 2, -1]),
            (vec![1 << 40, 3, 3], vec![5, 1 << 40, 5]),
        ];
        for (a1, a2) in &cases {
            let ants = sorted_distinct(a1.iter().chain(a2).copied());
            let bls = sorted_distinct(a1.iter().zip(a2).map(|(a, b)| (*a, *b)));
            assert_eq!(distinct_antennas(a1, a2), ants, "{a1:?} {a2:?}");
            assert_eq!(distinct_baselines(a1, a2), bls, "{a1:?} {a2:?}");
        }
        for times in [vec![], vec![1.0], vec![1.0, 1.0, 2.0, 2.0, 3.0], vec![2.0, 1.0, 2.0, 1.0], vec![0.0, -0.0, 0.0]] {
            assert_eq!(distinct_times(&times), sorted_distinct(times.iter().map(|t| t.to_bits())), "{times:?}");
        }
    }

    #[test]
    fn unknown_antennas_are_found_in_and_out_of_bitmap_range() {
        assert_eq!(first_unknown(&[0, 1, 2], [2, 1, 0].into_iter()), None);
        assert_eq!(first_unknown(&[0, 1, 2], [2, 3, 0].into_iter()), Some(3));
        assert_eq!(first_unknown(&[0, 1, 2], [2, -1].into_iter()), Some(-1));
        assert_eq!(first_unknown(&[0, 1, 2], [1 << 40].into_iter()), Some(1 << 40));
        assert_eq!(first_unknown(&[-5, 1 << 40], [1 << 40, -5, 0].into_iter()), Some(0));
        assert_eq!(first_unknown(&[], [0].into_iter()), Some(0));
    }
}
