//! What looks across baselines — the mean residual plane, noisy antennas — and the flagged
//! fractions per antenna and per channel for the summary.

use rayon::prelude::*;

use super::layout::Layout;
use super::sumthreshold::{robust_sigma, sum_threshold, thresholds, Shape};
use super::FlagConfig;

/// The cells to flag on every cross-correlation: the mean normalized residual of each (time,
/// channel) over the unflagged cross-correlations, thresholded like a baseline's plane, and
/// cells flagged on more than half of them.
pub(super) fn across_baselines(norm: &[f32], mask: &[bool], lay: &Layout, sigmas: &[Option<f32>], shape: Shape, cfg: &FlagConfig) -> Vec<bool> {
    let plane = shape.len();
    let cross: Vec<usize> = (0..lay.baselines.len()).filter(|&b| sigmas[b].is_some()).collect();
    if cross.is_empty() {
        return vec![false; plane];
    }
    let (sum, cnt, nflag) = cross
        .par_iter()
        .fold(
            || (vec![0.0f64; plane], vec![0u32; plane], vec![0u32; plane]),
            |(mut s, mut c, mut f), &b| {
                let (r, m) = (&norm[b * plane..(b + 1) * plane], &mask[b * plane..(b + 1) * plane]);
                for i in 0..plane {
                    if m[i] {
                        f[i] += 1;
                    } else {
                        s[i] += r[i] as f64;
                        c[i] += 1;
                    }
                }
                (s, c, f)
            },
        )
        .reduce(
            || (vec![0.0f64; plane], vec![0u32; plane], vec![0u32; plane]),
            |(mut s, mut c, mut f), (s2, c2, f2)| {
                for i in 0..plane {
                    s[i] += s2[i];
                    c[i] += c2[i];
                    f[i] += f2[i];
                }
                (s, c, f)
            },
        );
    let mean: Vec<f32> = sum.iter().zip(&cnt).map(|(&s, &c)| if c > 0 { (s / c as f64) as f32 } else { 0.0 }).collect();
    // Cells flagged on most baselines (or with no unflagged baseline) start flagged.
    let mut cell: Vec<bool> = nflag.iter().zip(&cnt).map(|(&f, &c)| c == 0 || f as usize * 2 > cross.len()).collect();
    if let Some((_, s)) = robust_sigma(&mean, &cell) {
        if s > 0.0 {
            let mut centred = mean.clone();
            let med = robust_sigma(&mean, &cell).map(|x| x.0).unwrap_or(0.0);
            centred.iter_mut().for_each(|x| *x -= med);
            for it in 0..cfg.iterations {
                let sensitivity = (1 << (cfg.iterations - 1 - it)) as f32;
                sum_threshold(&centred, &mut cell, shape, &thresholds(cfg.threshold * sensitivity * s, cfg.rho, cfg.max_window));
            }
        }
    }
    cell
}

/// Antennas whose cross-correlations' median σ exceeds `ratio` × the array's median.
pub(super) fn noisy(lay: &Layout, sigmas: &[Option<f32>], ratio: f32) -> Vec<usize> {
    let mut per_ant: Vec<Vec<f32>> = vec![Vec::new(); lay.n_ant];
    for (bl, s) in lay.baselines.iter().zip(sigmas) {
        if let Some(s) = s {
            per_ant[bl.ant1 as usize].push(*s);
            per_ant[bl.ant2 as usize].push(*s);
        }
    }
    let median = |v: &mut Vec<f32>| {
        let mid = v.len() / 2;
        *v.select_nth_unstable_by(mid, f32::total_cmp).1
    };
    let meds: Vec<Option<f32>> = per_ant.iter_mut().map(|v| (!v.is_empty()).then(|| median(v))).collect();
    let mut all: Vec<f32> = meds.iter().flatten().copied().collect();
    if all.len() < 3 {
        return Vec::new();
    }
    let array = median(&mut all);
    meds.iter().enumerate().filter(|(_, m)| m.is_some_and(|m| m > ratio * array)).map(|(a, _)| a).collect()
}

/// Flagged samples of each (cell, channel): FLAG's count as read (`orig`), or every
/// correlation where `mask` flags the cell.
#[derive(Clone, Copy)]
pub(super) struct Counts<'a> {
    pub orig: &'a [u8],
    pub mask: Option<&'a [bool]>,
    pub n_corr: usize,
}

impl Counts<'_> {
    pub fn sum(&self, range: std::ops::Range<usize>) -> usize {
        match self.mask {
            None => self.orig[range].iter().map(|&o| o as usize).sum(),
            Some(m) => self.orig[range.clone()].iter().zip(&m[range]).map(|(&o, &m)| if m { self.n_corr } else { o as usize }).sum(),
        }
    }

    fn at(&self, i: usize) -> usize {
        match self.mask {
            Some(m) if m[i] => self.n_corr,
            _ => self.orig[i] as usize,
        }
    }
}

/// Flagged fraction per antenna (None for antennas without rows), over its cross- and
/// auto-correlations.
pub(super) fn per_antenna(lay: &Layout, present: &[bool], counts: Counts) -> Vec<(usize, Option<f64>)> {
    let counts: Vec<(usize, usize)> = (0..lay.baselines.len())
        .into_par_iter()
        .map(|b| {
            let rows = (0..lay.n_time()).filter(|&t| present[b * lay.n_time() + t]).count();
            let f = (0..lay.n_time())
                .filter(|&t| present[b * lay.n_time() + t])
                .map(|t| {
                    let o = (b * lay.n_time() + t) * lay.n_chan;
                    counts.sum(o..o + lay.n_chan)
                })
                .sum();
            (f, rows * lay.n_chan * lay.n_corr)
        })
        .collect();
    let mut acc = vec![(0usize, 0usize); lay.n_ant];
    for (bl, (f, n)) in lay.baselines.iter().zip(counts) {
        for a in if bl.is_auto() { vec![bl.ant1] } else { vec![bl.ant1, bl.ant2] } {
            acc[a as usize].0 += f;
            acc[a as usize].1 += n;
        }
    }
    acc.into_iter().enumerate().map(|(a, (f, n))| (a, (n > 0).then(|| f as f64 / n as f64))).collect()
}

/// Flagged fraction per channel over all present rows and correlations.
pub(super) fn per_channel(lay: &Layout, present: &[bool], counts: Counts) -> Vec<f64> {
    let (n_chan, n_corr) = (lay.n_chan, lay.n_corr);
    let sums = present
        .par_iter()
        .enumerate()
        .filter(|(_, &p)| p)
        .fold(
            || vec![0usize; n_chan],
            |mut acc, (cell, _)| {
                for (c, a) in acc.iter_mut().enumerate() {
                    *a += counts.at(cell * n_chan + c);
                }
                acc
            },
        )
        .reduce(|| vec![0usize; n_chan], |a, b| a.iter().zip(&b).map(|(x, y)| x + y).collect());
    let denom = (present.iter().filter(|&&p| p).count() * n_corr).max(1) as f64;
    sums.into_iter().map(|c| c as f64 / denom).collect()
}
