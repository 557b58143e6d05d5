//! The detection algorithms on one time–frequency plane (row-major `[time][chan]`):
//! a masked smooth background, a robust noise estimate, SumThreshold (Offringa et al. 2010,
//! MNRAS 405, 155) and the scale-invariant rank operator (Offringa et al. 2012, A&A 539, A95).
//!
//! The hot ones are `#[inline(always)]`, so that the AVX2 copy of `flag::flag_plane` compiles
//! them for AVX2 too.

/// A time–frequency plane of `n_time` rows of `n_chan` samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub n_time: usize,
    pub n_chan: usize,
}

impl Shape {
    pub fn len(&self) -> usize {
        self.n_time * self.n_chan
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Which way a 1-D operation runs over the plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Along time, for each channel (catches narrowband, persistent RFI).
    Time,
    /// Along frequency, for each integration (catches broadband bursts).
    Freq,
}

/// The SumThreshold thresholds: χ_M = χ_1 / ρ^log2(M) for M = 1, 2, 4, … ≤ `max_length`.
pub fn thresholds(chi1: f32, rho: f32, max_length: usize) -> Vec<(usize, f32)> {
    let mut out = Vec::new();
    let mut m = 1;
    while m <= max_length.max(1) {
        out.push((m, chi1 / rho.powf((m as f32).log2())));
        m *= 2;
    }
    out
}

/// Gathers the lanes of one direction: for Time, lane k is channel k (stride n_chan).
fn lanes(shape: Shape, dir: Direction) -> (usize, usize, usize, usize) {
    // (number of lanes, lane length, stride between lanes, stride within a lane)
    match dir {
        Direction::Time => (shape.n_chan, shape.n_time, 1, shape.n_chan),
        Direction::Freq => (shape.n_time, shape.n_chan, shape.n_chan, 1),
    }
}

/// One SumThreshold pass of window `m` and threshold `chi` along `dir`, AOFlagger's way:
/// already-flagged samples are left out of a window's mean; if the mean of the rest exceeds
/// `chi`, the whole window is flagged. Only upward excursions count: interference adds power
/// to an amplitude, while the dips beside strong RFI (where it pulled the background up
/// before it was flagged) are not interference. Reads `mask`, ORs into `out`.
pub fn sum_threshold_pass(values: &[f32], mask: &[bool], out: &mut [bool], shape: Shape, dir: Direction, m: usize, chi: f32) {
    let len = if dir == Direction::Time { shape.n_time } else { shape.n_chan };
    if m > len {
        return;
    }
    match dir {
        Direction::Time => sum_threshold_time(values, mask, out, shape, m, chi),
        Direction::Freq => sum_threshold_freq(values, mask, out, shape, m, chi, &mut FreqPrefix::new(shape)),
    }
}

/// The lane-by-lane definition (kept for the tests that check the fast versions).
#[cfg(test)]
fn sum_threshold_lanes(values: &[f32], mask: &[bool], out: &mut [bool], shape: Shape, dir: Direction, m: usize, chi: f32) {
    let (n_lanes, len, lane_stride, step) = lanes(shape, dir);
    if m > len {
        return;
    }
    for lane in 0..n_lanes {
        let at = |i: usize| lane * lane_stride + i * step;
        let (mut sum, mut cnt) = (0.0f32, 0usize);
        for i in 0..m {
            if !mask[at(i)] {
                sum += values[at(i)];
                cnt += 1;
            }
        }
        for start in 0..=len - m {
            if start > 0 {
                let (gone, new) = (at(start - 1), at(start + m - 1));
                if !mask[gone] {
                    sum -= values[gone];
                    cnt -= 1;
                }
                if !mask[new] {
                    sum += values[new];
                    cnt += 1;
                }
            }
            if cnt > 0 && sum / cnt as f32 > chi {
                for i in start..start + m {
                    out[at(i)] = true;
                }
            }
        }
    }
}

/// Per integration, the prefix sums of the unflagged values and of their count (`[t][0..=n_chan]`),
/// kept across the window lengths of one [`sum_threshold`] and recomputed only for the
/// integrations whose flags changed since.
struct FreqPrefix {
    pv: Vec<f32>,
    pc: Vec<f32>,
    stale: Vec<bool>,
}

impl FreqPrefix {
    fn new(shape: Shape) -> FreqPrefix {
        let n = shape.n_time * (shape.n_chan + 1);
        FreqPrefix { pv: vec![0.0; n], pc: vec![0.0; n], stale: vec![true; shape.n_time] }
    }

    /// Brings the sums of every stale integration up to date with `mask`. A prefix sum is a
    /// chain of dependent adds: four integrations are summed in lockstep (eight chains in
    /// flight), and the weight is a number, not a branch (flags are too irregular to predict).
    #[inline(always)]
    fn refresh(&mut self, values: &[f32], mask: &[bool], shape: Shape) {
        let nc = shape.n_chan;
        let stale: Vec<usize> = (0..shape.n_time).filter(|&t| self.stale[t]).collect();
        for group in stale.chunks(4) {
            let mut rows: [(&[f32], &[bool], &mut [f32], &mut [f32]); 4] = Default::default();
            let (mut pv, mut pc) = (&mut self.pv[..], &mut self.pc[..]);
            let mut base = 0;
            for (j, &t) in group.iter().enumerate() {
                // Split off integration t's sums (groups are ascending).
                let (_, rest_v) = std::mem::take(&mut pv).split_at_mut((t - base) * (nc + 1));
                let (_, rest_c) = std::mem::take(&mut pc).split_at_mut((t - base) * (nc + 1));
                let (row_v, rest_v) = rest_v.split_at_mut(nc + 1);
                let (row_c, rest_c) = rest_c.split_at_mut(nc + 1);
                rows[j] = (&values[t * nc..(t + 1) * nc], &mask[t * nc..(t + 1) * nc], &mut row_v[1..], &mut row_c[1..]);
                (pv, pc, base) = (rest_v, rest_c, t + 1);
            }
            prefix_rows(&mut rows[..group.len()], nc);
        }
        for t in stale {
            self.stale[t] = false;
        }
    }

    /// The sums of integration `t` (current after [`FreqPrefix::refresh`]).
    #[inline(always)]
    fn row(&self, t: usize, nc: usize) -> (&[f32], &[f32]) {
        let r = t * (nc + 1)..(t + 1) * (nc + 1);
        (&self.pv[r.clone()], &self.pc[r])
    }
}

/// Prefix sums of the unflagged values and of their count, of up to four rows in lockstep.
#[inline(always)]
fn prefix_rows(rows: &mut [(&[f32], &[bool], &mut [f32], &mut [f32])], nc: usize) {
    let (mut sv, mut sc) = ([0.0f32; 4], [0.0f32; 4]);
    for i in 0..nc {
        for (j, (v, f, pv, pc)) in rows.iter_mut().enumerate() {
            let w = (!f[i]) as u8 as f32;
            sv[j] += w * v[i];
            sc[j] += w;
            pv[i] = sv[j];
            pc[i] = sc[j];
        }
    }
}

/// The Freq direction of [`sum_threshold_pass`]: per integration, the prefix sums give every
/// window's mean at once; which windows exceed χ is a branch-free loop (it vectorises), and
/// only an integration with a hit is marked (a running count of the hits covering a sample).
#[inline(always)]
fn sum_threshold_freq(values: &[f32], mask: &[bool], out: &mut [bool], shape: Shape, m: usize, chi: f32, pre: &mut FreqPrefix) {
    let nc = shape.n_chan;
    let n_windows = nc + 1 - m;
    let mut hit = vec![0u8; n_windows];
    pre.refresh(values, mask, shape);
    for t in 0..shape.n_time {
        let (pv, pc) = pre.row(t, nc);
        // Equal-length slices indexed alike: the loop vectorises.
        let (c1, c0, v1, v0) = (&pc[m..m + n_windows], &pc[..n_windows], &pv[m..m + n_windows], &pv[..n_windows]);
        let mut n_hit = 0u32;
        for i in 0..n_windows {
            let c = c1[i] - c0[i];
            let yes = (c > 0.5) & (v1[i] - v0[i] > chi * c);
            hit[i] = yes as u8;
            n_hit += yes as u32;
        }
        if n_hit == 0 {
            continue;
        }
        mark_windows(&hit, m, &mut out[t * nc..(t + 1) * nc]);
    }
}

/// Flags the `m` samples of every window that hit (`hit[i]`: the window starting at i), each
/// sample once however many windows cover it; hits are few, so zero words are skipped whole.
#[inline(always)]
fn mark_windows(hit: &[u8], m: usize, out: &mut [bool]) {
    let mut done = 0; // out[..done] holds every mark of the windows seen so far
    let mut i = 0;
    while i < hit.len() {
        if i + 8 <= hit.len() && u64::from_ne_bytes(hit[i..i + 8].try_into().expect("8 bytes")) == 0 {
            i += 8;
            continue;
        }
        if hit[i] != 0 {
            out[i.max(done)..i + m].fill(true);
            done = i + m;
        }
        i += 1;
    }
}

/// The Time direction of [`sum_threshold_pass`], all channels at once (rows are contiguous,
/// so the running sums vectorise).
#[inline(always)]
fn sum_threshold_time(values: &[f32], mask: &[bool], out: &mut [bool], shape: Shape, m: usize, chi: f32) {
    let (nt, nc) = (shape.n_time, shape.n_chan);
    let row = |t: usize| t * nc..(t + 1) * nc;
    let mut sum = vec![0.0f32; nc];
    let mut cnt = vec![0.0f32; nc];
    let add = |sum: &mut [f32], cnt: &mut [f32], t: usize, sign: f32| {
        for ((s, c), (&v, &f)) in sum.iter_mut().zip(cnt.iter_mut()).zip(values[row(t)].iter().zip(&mask[row(t)])) {
            // A number, not a branch: flags are too irregular to predict.
            let w = (!f) as u8 as f32 * sign;
            *s += w * v;
            *c += w;
        }
    };
    for t in 0..m {
        add(&mut sum, &mut cnt, t, 1.0);
    }
    let mut hit = vec![false; nc];
    for start in 0..=nt - m {
        if start > 0 {
            add(&mut sum, &mut cnt, start - 1, -1.0);
            add(&mut sum, &mut cnt, start + m - 1, 1.0);
        }
        // `&` and `|`, not `&&`: no branch per channel, so the loop vectorises.
        let mut any = false;
        for ((h, &s), &c) in hit.iter_mut().zip(&sum).zip(&cnt) {
            *h = (c > 0.5) & (s > chi * c);
            any |= *h;
        }
        if any {
            for t in start..start + m {
                for (o, &h) in out[row(t)].iter_mut().zip(&hit) {
                    *o |= h;
                }
            }
        }
    }
}

/// SumThreshold over all window lengths in both directions; each length sees the flags of
/// the shorter ones (so a strong spike does not drag its neighbours over a long window).
#[inline(always)]
pub fn sum_threshold(values: &[f32], mask: &mut [bool], shape: Shape, thresholds: &[(usize, f32)]) {
    let mut scratch = mask.to_vec();
    let mut pre = FreqPrefix::new(shape);
    for &(m, chi) in thresholds {
        if m <= shape.n_time {
            sum_threshold_time(values, mask, &mut scratch, shape, m, chi);
            take_new_flags(mask, &scratch, shape, &mut pre);
        }
        if m <= shape.n_chan {
            sum_threshold_freq(values, mask, &mut scratch, shape, m, chi, &mut pre);
            take_new_flags(mask, &scratch, shape, &mut pre);
        }
    }
}

/// `mask = scratch` (which holds `mask` and the pass's new flags), integration by integration;
/// the prefix sums of an integration that changed are stale.
#[inline(always)]
fn take_new_flags(mask: &mut [bool], scratch: &[bool], shape: Shape, pre: &mut FreqPrefix) {
    let nc = shape.n_chan;
    for ((m, s), stale) in mask.chunks_mut(nc.max(1)).zip(scratch.chunks(nc.max(1))).zip(pre.stale.iter_mut()) {
        if m != s {
            m.copy_from_slice(s);
            *stale = true;
        }
    }
}

/// The scale-invariant rank operator on a 1-D mask: a sample is flagged when some interval
/// containing it is at least (1 − η) flagged. Linear time: with v = η for flagged and η − 1
/// for unflagged samples and W its prefix sums, x is flagged iff
/// max_{j > x} W(j) − min_{i ≤ x} W(i) ≥ 0.
pub fn sir_1d(mask: &mut [bool], eta: f32) {
    sir_1d_in(mask, eta, &mut SirScratch::default());
}

/// The buffers of [`sir_1d`], reused from lane to lane.
#[derive(Default)]
struct SirScratch {
    w: Vec<f32>,
    min_left: Vec<f32>,
    lane: Vec<bool>,
}

fn sir_1d_in(mask: &mut [bool], eta: f32, buf: &mut SirScratch) {
    let n = mask.len();
    // Nothing flagged, nothing to widen (and most lanes of a plane are so).
    if !mask.contains(&true) {
        return;
    }
    let (w, min_left) = (&mut buf.w, &mut buf.min_left);
    w.clear();
    w.push(0.0);
    let mut acc = 0.0f32;
    for &m in mask.iter() {
        acc += if m { eta } else { eta - 1.0 };
        w.push(acc);
    }
    min_left.clear();
    let mut lo = f32::INFINITY;
    for &wx in &w[..n] {
        lo = lo.min(wx);
        min_left.push(lo);
    }
    let mut hi = f32::NEG_INFINITY;
    for x in (0..n).rev() {
        hi = hi.max(w[x + 1]);
        // A small tolerance: η sums are not exact in binary.
        if hi - min_left[x] >= -1e-5 {
            mask[x] = true;
        }
    }
}

/// SIR along both directions of a plane.
pub fn sir(mask: &mut [bool], shape: Shape, eta: f32) {
    if !mask.contains(&true) {
        return;
    }
    let original = mask.to_vec();
    let mut buf = SirScratch::default();
    for dir in [Direction::Time, Direction::Freq] {
        let (n_lanes, len, lane_stride, step) = lanes(shape, dir);
        for l in 0..n_lanes {
            let mut lane = std::mem::take(&mut buf.lane);
            lane.clear();
            lane.extend((0..len).map(|i| original[l * lane_stride + i * step]));
            sir_1d_in(&mut lane, eta, &mut buf);
            for (i, &m) in lane.iter().enumerate() {
                mask[l * lane_stride + i * step] |= m;
            }
            buf.lane = lane;
        }
    }
}

/// A box sum of half-width `r` along `dir` (prefix sums, so the cost does not depend on r).
#[inline(always)]
fn box_sum(values: &[f32], out: &mut [f32], shape: Shape, dir: Direction, r: usize) {
    if dir == Direction::Time {
        // All channels at once: out row t = Σ rows t−r..=t+r (a running sum of rows).
        let (nt, nc) = (shape.n_time, shape.n_chan);
        let mut acc = vec![0.0f32; nc];
        for t in 0..r.min(nt) {
            acc.iter_mut().zip(&values[t * nc..(t + 1) * nc]).for_each(|(a, &v)| *a += v);
        }
        for t in 0..nt {
            if t + r < nt {
                acc.iter_mut().zip(&values[(t + r) * nc..(t + r + 1) * nc]).for_each(|(a, &v)| *a += v);
            }
            if t > r {
                acc.iter_mut().zip(&values[(t - r - 1) * nc..(t - r) * nc]).for_each(|(a, &v)| *a -= v);
            }
            out[t * nc..(t + 1) * nc].copy_from_slice(&acc);
        }
        return;
    }
    // Freq: per integration, f64 prefix sums, then every window's sum as a difference of two
    // of them (independent: it vectorises). A prefix sum is a chain of dependent adds, so four
    // integrations are summed in lockstep: four chains in flight, the same sums.
    let nc = shape.n_chan;
    let mut p = vec![0.0f64; 4 * (nc + 1)];
    let mut pending: Vec<(&[f32], &mut [f32])> = Vec::with_capacity(4);
    for row in values.chunks(nc.max(1)).zip(out.chunks_mut(nc.max(1))) {
        pending.push(row);
        if pending.len() == 4 {
            box_rows(&mut pending, &mut p, nc, r);
        }
    }
    if !pending.is_empty() {
        box_rows(&mut pending, &mut p, nc, r);
    }
}

/// The Freq box sums of up to four integrations (drained from `rows`), their prefix sums
/// computed in lockstep in `p` (4 × (nc + 1), element 0 of each left at zero).
#[inline(always)]
fn box_rows(rows: &mut Vec<(&[f32], &mut [f32])>, p: &mut [f64], nc: usize, r: usize) {
    let mut acc = [0.0f64; 4];
    for i in 0..nc {
        for (j, (row, _)) in rows.iter().enumerate() {
            acc[j] += row[i] as f64;
            p[j * (nc + 1) + i + 1] = acc[j];
        }
    }
    for (j, (_, o)) in rows.drain(..).enumerate() {
        let p = &p[j * (nc + 1)..(j + 1) * (nc + 1)];
        // Clamped at both ends; in between, window i is p[i + r + 1] − p[i − r].
        let edge = |i: usize| (p[(i + r + 1).min(nc)] - p[i.saturating_sub(r)]) as f32;
        let (lo, hi) = (r.min(nc), nc.saturating_sub(r + 1).max(r.min(nc)));
        for (i, x) in o.iter_mut().enumerate().take(lo) {
            *x = edge(i);
        }
        for ((x, &b), &a) in o[lo..hi].iter_mut().zip(&p[lo + r + 1..]).zip(&p[lo - r..]) {
            *x = (b - a) as f32;
        }
        for (i, x) in o.iter_mut().enumerate().skip(hi) {
            *x = edge(i);
        }
    }
}

/// The lane-by-lane box sum (for the test of the fast one).
#[cfg(test)]
fn box_sum_lanes(values: &[f32], out: &mut [f32], shape: Shape, dir: Direction, r: usize) {
    let (n_lanes, len, lane_stride, step) = lanes(shape, dir);
    let mut p = vec![0.0f64; len + 1];
    for l in 0..n_lanes {
        let at = |i: usize| l * lane_stride + i * step;
        for i in 0..len {
            p[i + 1] = p[i] + values[at(i)] as f64;
        }
        for i in 0..len {
            let (a, b) = (i.saturating_sub(r), (i + r + 1).min(len));
            out[at(i)] = (p[b] - p[a]) as f32;
        }
    }
}

/// A smooth background of `values` that ignores flagged samples: a normalized convolution
/// (smoothed value × weight over smoothed weight) with box filters applied twice in each
/// direction (a triangle, close to a Gaussian), half-widths `r_time`, `r_chan`.
#[inline(always)]
pub fn background(values: &[f32], mask: &[bool], shape: Shape, r_time: usize, r_chan: usize) -> Vec<f32> {
    let n = shape.len();
    let mut w: Vec<f32> = mask.iter().map(|&m| if m { 0.0 } else { 1.0 }).collect();
    let mut v: Vec<f32> = values.iter().zip(&w).map(|(&x, &w)| if w > 0.0 && x.is_finite() { x } else { 0.0 }).collect();
    let mut tmp = vec![0.0f32; n];
    for (dir, r) in [(Direction::Freq, r_chan), (Direction::Freq, r_chan), (Direction::Time, r_time), (Direction::Time, r_time)] {
        box_sum(&v, &mut tmp, shape, dir, r);
        std::mem::swap(&mut v, &mut tmp);
        box_sum(&w, &mut tmp, shape, dir, r);
        std::mem::swap(&mut w, &mut tmp);
    }
    v.iter().zip(&w).map(|(&s, &w)| if w > 0.0 { s / w } else { 0.0 }).collect()
}

/// A robust standard deviation of the unflagged `values`: 1.4826 × the median absolute
/// deviation from the median (None when nothing is unflagged).
#[inline(always)]
pub fn robust_sigma(values: &[f32], mask: &[bool]) -> Option<(f32, f32)> {
    // Selected as integer keys that order as `f32::total_cmp` does: an integer comparison is
    // cheaper than total_cmp's bit twiddling, and the selected element is the same.
    let key = |x: f32| {
        let b = x.to_bits();
        if b >> 31 == 1 { !b } else { b | 0x8000_0000 }
    };
    let unkey = |k: u32| f32::from_bits(if k >> 31 == 1 { k & 0x7fff_ffff } else { !k });
    let mut v: Vec<u32> = values.iter().zip(mask).filter(|(x, &m)| !m && x.is_finite()).map(|(&x, _)| key(x)).collect();
    if v.is_empty() {
        return None;
    }
    let mid = v.len() / 2;
    let med = unkey(*v.select_nth_unstable(mid).1);
    // |x − med| is never negative, and the bits of non-negative floats order as the floats.
    for k in v.iter_mut() {
        *k = (unkey(*k) - med).abs().to_bits();
    }
    let mad = f32::from_bits(*v.select_nth_unstable(mid).1);
    Some((med, 1.4826 * mad))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, StandardNormal};

    const S: Shape = Shape { n_time: 32, n_chan: 128 };

    fn noise(seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..S.len()).map(|_| StandardNormal.sample(&mut rng)).collect()
    }

    #[test]
    fn thresholds_follow_offringa() {
        let t = thresholds(6.0, 1.5, 64);
        assert_eq!(t.iter().map(|x| x.0).collect::<Vec<_>>(), vec![1, 2, 4, 8, 16, 32, 64]);
        for &(m, chi) in &t {
            assert!((chi - 6.0 / 1.5f32.powi(m.trailing_zeros() as i32)).abs() < 1e-5);
        }
    }

    #[test]
    fn a_single_pass_flags_exactly_the_windows_over_threshold() {
        // One lane of 10 along frequency: a block of 3 samples at 2.0 among zeros.
        let shape = Shape { n_time: 1, n_chan: 10 };
        let mut v = vec![0.0f32; 10];
        v[4..7].fill(2.0);
        let mask = vec![false; 10];
        let mut out = vec![false; 10];
        // M = 2, χ = 1.5: only windows [4,5] and [5,6] have mean 2 > 1.5.
        sum_threshold_pass(&v, &mask, &mut out, shape, Direction::Freq, 2, 1.5);
        assert_eq!(out.iter().positions(), vec![4, 5, 6]);
        // χ = 2.0 is not exceeded (strictly greater is needed).
        let mut out = vec![false; 10];
        sum_threshold_pass(&v, &mask, &mut out, shape, Direction::Freq, 2, 2.0);
        assert!(out.iter().all(|&f| !f));
        // A flagged sample is left out of the mean: [3,4] with 3 flagged has mean 2.
        let mut mask = vec![false; 10];
        mask[3] = true;
        let mut out = vec![false; 10];
        sum_threshold_pass(&v, &mask, &mut out, shape, Direction::Freq, 2, 1.5);
        assert_eq!(out.iter().positions(), vec![3, 4, 5, 6]);
    }

    #[test]
    fn sum_threshold_finds_a_weak_broadband_line_and_little_else() {
        // Unit Gaussian noise; a 1σ burst over one whole integration is invisible per sample
        // but its 64-sample mean is 8σ of that mean's noise.
        let mut v = noise(1);
        for c in 0..S.n_chan {
            v[10 * S.n_chan + c] += 1.0;
        }
        let mut mask = vec![false; S.len()];
        sum_threshold(&v, &mut mask, S, &thresholds(6.0, 1.5, 64));
        let hit = (0..S.n_chan).filter(|&c| mask[10 * S.n_chan + c]).count();
        assert!(hit >= S.n_chan * 9 / 10, "found {hit} of {}", S.n_chan);
        let false_pos = mask.iter().filter(|&&m| m).count() - hit;
        // χ_1 = 6σ and χ_64 ≈ 0.53σ on unit noise: Gaussian tails give well under 1%.
        assert!(false_pos < S.len() / 100, "{false_pos} false positives");
    }

    #[test]
    fn sum_threshold_on_pure_noise_flags_almost_nothing() {
        // Over 20 planes (one 64-window false alarm is 1.6% of a plane): under 0.5% overall.
        let mut n = 0;
        for seed in 10..30 {
            let v = noise(seed);
            let mut mask = vec![false; S.len()];
            sum_threshold(&v, &mut mask, S, &thresholds(6.0, 1.5, 64));
            n += mask.iter().filter(|&&m| m).count();
        }
        assert!(n < 20 * S.len() / 200, "{n} of {}", 20 * S.len());
    }

    #[test]
    fn sir_extends_dense_runs_by_eta_times_their_length() {
        // η = 0.2: a run of 10 flagged samples grows by 2 on each side (an interval of 12
        // holds 10 flagged = 83% ≥ 80%; of 13: 77%, not enough).
        let mut m = vec![false; 30];
        m[10..20].fill(true);
        sir_1d(&mut m, 0.2);
        assert_eq!(m.iter().positions(), (8..22).collect::<Vec<_>>());
        // Two runs of 4 with a gap of 1 are joined (9 samples, 8 flagged = 89%).
        let mut m = vec![false; 20];
        m[2..6].fill(true);
        m[7..11].fill(true);
        sir_1d(&mut m, 0.2);
        assert!(m[6]);
        // η = 0 changes nothing.
        let mut m = vec![false; 20];
        m[3] = true;
        m[9] = true;
        let before = m.clone();
        sir_1d(&mut m, 0.0);
        assert_eq!(m, before);
    }

    #[test]
    fn sir_matches_brute_force() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for _ in 0..200 {
            let n = rng.random_range(1..40);
            let m0: Vec<bool> = (0..n).map(|_| rng.random_bool(0.4)).collect();
            let eta = 0.25f32;
            let mut fast = m0.clone();
            sir_1d(&mut fast, eta);
            let brute: Vec<bool> = (0..n)
                .map(|x| {
                    (0..=x).any(|a| {
                        (x + 1..=n).any(|b| {
                            let flagged = m0[a..b].iter().filter(|&&f| f).count() as f32;
                            flagged >= (1.0 - eta) * (b - a) as f32 - 1e-5
                        })
                    })
                })
                .collect();
            assert_eq!(fast, brute, "{m0:?}");
        }
    }

    #[test]
    fn background_ignores_flagged_samples_and_follows_a_slope() {
        let s = Shape { n_time: 8, n_chan: 64 };
        let mut v: Vec<f32> = (0..s.len()).map(|i| (i % 64) as f32 * 0.1).collect();
        let mut mask = vec![false; s.len()];
        // A huge flagged spike does not leak into the background.
        v[3 * 64 + 30] = 1e6;
        mask[3 * 64 + 30] = true;
        let bg = background(&v, &mask, s, 2, 4);
        for t in 0..8 {
            for c in 10..54 {
                // Exact away from the hole; near it the weights are lopsided by one sample.
                let tol = if (22..=38).contains(&c) { 0.05 } else { 1e-3 };
                assert!((bg[t * 64 + c] - c as f32 * 0.1).abs() < tol, "t {t} c {c}: {}", bg[t * 64 + c]);
            }
        }
    }

    #[test]
    fn robust_sigma_selects_what_total_cmp_selects() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for n in [1usize, 2, 3, 10, 101, 1000] {
            let mut v: Vec<f32> = (0..n).map(|_| rng.random_range(-5.0..5.0)).collect();
            v[0] = -0.0;
            if n > 2 {
                v[1] = 0.0;
                v[2] = f32::NAN;
            }
            let mask: Vec<bool> = (0..n).map(|i| i % 7 == 3).collect();
            let mut want: Vec<f32> = v.iter().zip(&mask).filter(|(x, &m)| !m && x.is_finite()).map(|(&x, _)| x).collect();
            let mid = want.len() / 2;
            let med = *want.select_nth_unstable_by(mid, f32::total_cmp).1;
            for x in want.iter_mut() {
                *x = (*x - med).abs();
            }
            let mad = *want.select_nth_unstable_by(mid, f32::total_cmp).1;
            let (m, s) = robust_sigma(&v, &mask).unwrap();
            assert_eq!((m.to_bits(), s.to_bits()), (med.to_bits(), (1.4826 * mad).to_bits()), "n {n}");
        }
    }

    #[test]
    fn robust_sigma_of_unit_noise_with_outliers() {
        let mut v = noise(3);
        for x in v.iter_mut().step_by(50) {
            *x = 1e3;
        }
        let (med, sigma) = robust_sigma(&v, &vec![false; v.len()]).unwrap();
        assert!(med.abs() < 0.05 && (sigma - 1.0).abs() < 0.06, "{med} {sigma}");
    }

    trait Positions {
        fn positions(self) -> Vec<usize>;
    }
    impl<'a, I: Iterator<Item = &'a bool>> Positions for I {
        fn positions(self) -> Vec<usize> {
            self.enumerate().filter(|(_, &b)| b).map(|(i, _)| i).collect()
        }
    }
}

#[cfg(test)]
mod time_direction {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The row-wise Time direction equals the lane-by-lane definition.
    #[test]
    fn row_wise_time_pass_matches_the_lane_definition() {
        let shape = Shape { n_time: 24, n_chan: 37 };
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let v: Vec<f32> = (0..shape.len()).map(|_| rng.random_range(-1.0..3.0)).collect();
        let mask: Vec<bool> = (0..shape.len()).map(|_| rng.random_bool(0.2)).collect();
        for m in [1, 2, 4, 8, 16] {
            let mut fast = vec![false; shape.len()];
            sum_threshold_pass(&v, &mask, &mut fast, shape, Direction::Time, m, 0.8);
            let mut slow = vec![false; shape.len()];
            for c in 0..shape.n_chan {
                for start in 0..=shape.n_time - m {
                    let xs: Vec<f32> = (start..start + m).filter(|&t| !mask[t * shape.n_chan + c]).map(|t| v[t * shape.n_chan + c]).collect();
                    if !xs.is_empty() && xs.iter().sum::<f32>() / xs.len() as f32 > 0.8 {
                        (start..start + m).for_each(|t| slow[t * shape.n_chan + c] = true);
                    }
                }
            }
            // Float sums in another order: allow a disagreement only at the threshold itself.
            let diff = fast.iter().zip(&slow).filter(|(a, b)| a != b).count();
            assert!(diff <= 2, "m {m}: {diff} differ");
        }
        for dir in [Direction::Time, Direction::Freq] {
            for m in [1, 2, 4, 8, 16, 32] {
                let mut fast = vec![false; shape.len()];
                sum_threshold_pass(&v, &mask, &mut fast, shape, dir, m, 0.8);
                let mut slow = vec![false; shape.len()];
                sum_threshold_lanes(&v, &mask, &mut slow, shape, dir, m, 0.8);
                let diff = fast.iter().zip(&slow).filter(|(a, b)| a != b).count();
                assert!(diff <= 2, "{dir:?} m {m}: {diff} differ");
            }
        }
        for dir in [Direction::Time, Direction::Freq] {
            for r in [0, 1, 4] {
                let (mut fast, mut slow) = (vec![0.0f32; shape.len()], vec![0.0f32; shape.len()]);
                box_sum(&v, &mut fast, shape, dir, r);
                box_sum_lanes(&v, &mut slow, shape, dir, r);
                assert!(fast.iter().zip(&slow).all(|(a, b)| (a - b).abs() < 1e-3), "{dir:?} r {r}");
            }
        }
        let mut out = vec![0.0f32; shape.len()];
        box_sum(&v, &mut out, shape, Direction::Time, 2);
        for t in 0..shape.n_time {
            for c in 0..shape.n_chan {
                let want: f32 = (t.saturating_sub(2)..(t + 3).min(shape.n_time)).map(|u| v[u * shape.n_chan + c]).sum();
                assert!((out[t * shape.n_chan + c] - want).abs() < 1e-4);
            }
        }
    }

    /// Rough cost of one full-size plane (24 × 768); run with --ignored --nocapture.
    #[test]
    #[ignore]
    fn plane_cost() {
        let shape = Shape { n_time: 24, n_chan: 768 };
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let v: Vec<f32> = (0..shape.len()).map(|_| rng.random_range(0.0..1.0)).collect();
        let t0 = std::time::Instant::now();
        for _ in 0..50 {
            let mut mask = vec![false; shape.len()];
            for _ in 0..3 {
                let bg = background(&v, &mask, shape, 2, 6);
                let r: Vec<f32> = v.iter().zip(&bg).map(|(a, b)| a - b).collect();
                let (_, s) = robust_sigma(&r, &mask).unwrap();
                sum_threshold(&r, &mut mask, shape, &thresholds(6.0 * s, 1.5, 64));
            }
        }
        eprintln!("{:.2} ms per plane", t0.elapsed().as_secs_f64() * 1e3 / 50.0);
        let mask = vec![false; shape.len()];
        let t0 = std::time::Instant::now();
        for _ in 0..150 {
            std::hint::black_box(background(&v, &mask, shape, 2, 6));
        }
        eprintln!("background {:.3} ms", t0.elapsed().as_secs_f64() * 1e3 / 150.0);
        let t0 = std::time::Instant::now();
        for _ in 0..150 {
            std::hint::black_box(robust_sigma(&v, &mask));
        }
        eprintln!("robust_sigma {:.3} ms", t0.elapsed().as_secs_f64() * 1e3 / 150.0);
        let t0 = std::time::Instant::now();
        for _ in 0..150 {
            let mut m = mask.clone();
            sum_threshold(&v, &mut m, shape, &thresholds(6.0 * 0.3, 1.5, 64));
        }
        eprintln!("sum_threshold {:.3} ms", t0.elapsed().as_secs_f64() * 1e3 / 150.0);
    }
}
