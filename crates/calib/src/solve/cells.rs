//! The three solves from the accumulated cells, every solution cell in parallel:
//!
//! - B: per channel and hand, the sums over all intervals; then solnorm (each antenna's and
//!   hand's solutions divided by their rms amplitude and the phase of their mean unit phasor
//!   over unflagged channels: what CASA 6's `solnorm=True, normtype='mean'` gives — measured on
//!   its tables, rms amplitude 1 to 2e-7, mean amplitude off by up to 0.3%).
//! - G (solint inf, phase only): per hand, the sums over all channels and intervals of the data
//!   corrected by B. Correction with calwt scales `w` by `|b_i b_j|²`, so the corrected sums are
//!   `R' = Σ R conj(b_i) b_j`, `Q' = Σ Q |b_i|² |b_j|²`, `S' = Σ S` — no second read.
//! - G60 (phase only): the same per interval, with B and G folded in.
//!
//! A channel whose B is flagged for either antenna drops out of the G sums, as CASA flags
//! data whose calibration is flagged.

use num_complex::{Complex32, Complex64};
use rayon::prelude::*;

use super::accumulate::{Accum, Layout};
use super::stefcal::{self, Mode, Normal};

/// Solutions of one solve: `[cell][ant][hand]` with cell = (spw·chan) for B, interval for G.
pub struct Solved {
    pub gains: Vec<Complex64>,
    pub err: Vec<f64>,
    pub snr: Vec<f64>,
    pub flag: Vec<bool>,
    pub n_cells: usize,
    pub n_ant: usize,
    pub iterations_max: usize,
}

impl Solved {
    pub fn idx(&self, cell: usize, ant: usize, hand: usize) -> usize {
        (cell * self.n_ant + ant) * 2 + hand
    }

    fn from_solutions(sols: Vec<stefcal::Solution>, n_cells: usize, n_ant: usize, min_snr: f64) -> Solved {
        // sols are [cell][hand].
        let mut s = Solved {
            gains: vec![Complex64::new(1.0, 0.0); n_cells * n_ant * 2],
            err: vec![0.0; n_cells * n_ant * 2],
            snr: vec![0.0; n_cells * n_ant * 2],
            flag: vec![true; n_cells * n_ant * 2],
            n_cells,
            n_ant,
            iterations_max: 0,
        };
        for (k, sol) in sols.into_iter().enumerate() {
            let (cell, hand) = (k / 2, k % 2);
            s.iterations_max = s.iterations_max.max(sol.iterations);
            for a in 0..n_ant {
                let x = s.idx(cell, a, hand);
                s.gains[x] = sol.gains[a];
                s.err[x] = sol.err[a];
                s.snr[x] = sol.snr[a];
                let snr_ok = sol.snr[a] >= min_snr; // false for a NaN SNR
                s.flag[x] = !sol.has_data[a] || !snr_ok;
            }
        }
        s
    }

    /// Fraction of flagged solutions among antennas that have data in some cell.
    pub fn flagged_fraction(&self) -> f64 {
        let mut active = vec![false; self.n_ant];
        for c in 0..self.n_cells {
            for (a, act) in active.iter_mut().enumerate() {
                for h in 0..2 {
                    if !self.flag[self.idx(c, a, h)] {
                        *act = true;
                    }
                }
            }
        }
        let n_active = active.iter().filter(|&&a| a).count();
        if n_active == 0 {
            return 1.0;
        }
        let flagged: usize = (0..self.n_cells)
            .flat_map(|c| (0..self.n_ant).filter(|&a| active[a]).flat_map(move |a| (0..2).map(move |h| (c, a, h))))
            .filter(|&(c, a, h)| self.flag[self.idx(c, a, h)])
            .count();
        flagged as f64 / (self.n_cells * n_active * 2) as f64
    }
}

fn add_cell(nm: &mut Normal, i: usize, j: usize, r: Complex64, q: f64, s: f64, n: f64) {
    if q > 0.0 {
        nm.add(i, j, r, q, s, n);
    }
}

/// B: one solve per (spw·chan, hand).
pub fn solve_b(acc: &Accum, lay: &Layout, refant: usize, min_snr: f64) -> Solved {
    let n = lay.ants.len();
    let ng = lay.n_gchan();
    let n_pairs = lay.n_pairs();
    let sols: Vec<stefcal::Solution> = (0..ng * 2)
        .step_by(BLOCK)
        .collect::<Vec<_>>()
        .into_par_iter()
        .flat_map_iter(|k0| {
            let by_cell = sum_intervals_by_cell(acc, lay, k0..(k0 + BLOCK).min(ng * 2));
            let sols: Vec<stefcal::Solution> = by_cell
                .chunks(n_pairs.max(1))
                .map(|cells| {
                    let mut nm = Normal::zeros(n);
                    for i in 0..n {
                        for j in i + 1..n {
                            let c = &cells[lay.pair(i, j)];
                            add_cell(&mut nm, i, j, c.r, c.q, c.s, c.n);
                        }
                    }
                    stefcal::solve(&nm, Mode::AmplitudePhase, refant)
                })
                .collect();
            sols
        })
        .collect();
    let mut solved = Solved::from_solutions(sols, ng, n, min_snr);
    normalize_b(&mut solved, lay);
    solved
}

/// Sums of one (channel, hand, pair) over the intervals, in f64.
#[derive(Clone, Copy, Default)]
struct Sum {
    r: Complex64,
    q: f64,
    s: f64,
    n: f64,
}

/// B cells (spw·chan·2 + hand) summed and solved together: 32 of them are 5.8 MB of sums on
/// a full group, built and dropped per block rather than all at once (0.28 GB, memory touched
/// for the first time).
const BLOCK: usize = 32;

/// The accumulator's cells `ks` summed over intervals and transposed to `[cell][pair]`, so
/// that each B cell reads its pairs contiguously (reading them strided from
/// `[pair][chan][hand]` costs a cache miss each, which made this step slower than the
/// accumulation). For each pair, the block reads its run of cells of every interval
/// (contiguous) and appends one sum to each of its rows, so both sides stay within a few dozen
/// cache lines.
fn sum_intervals_by_cell(acc: &Accum, lay: &Layout, ks: std::ops::Range<usize>) -> Vec<Sum> {
    let n_pairs = lay.n_pairs();
    let nk = ks.len();
    let mut rows = vec![Sum::default(); nk * n_pairs];
    for pair in 0..n_pairs {
        for int in 0..lay.intervals.len() {
            let base = acc.index(lay, int, pair, 0, 0) + ks.start;
            for (dk, c) in acc.cells[base..base + nk].iter().enumerate() {
                let x = &mut rows[dk * n_pairs + pair];
                x.r += Complex64::new(c.r.re as f64, c.r.im as f64);
                x.q += c.q as f64;
                x.s += c.s as f64;
                x.n += c.n as f64;
            }
        }
    }
    rows
}

/// solnorm: per antenna, hand and spectral window, divide by the rms amplitude and the phase
/// of the mean unit phasor of the unflagged channels.
fn normalize_b(s: &mut Solved, lay: &Layout) {
    for spw in 0..lay.n_spw {
        for a in 0..s.n_ant {
            for h in 0..2 {
                let (mut amp, mut ph, mut k) = (0.0, Complex64::default(), 0usize);
                for c in 0..lay.n_chan {
                    let x = s.idx(spw * lay.n_chan + c, a, h);
                    if !s.flag[x] && s.gains[x].norm() > 0.0 {
                        amp += s.gains[x].norm_sqr();
                        ph += s.gains[x] / s.gains[x].norm();
                        k += 1;
                    }
                }
                if k == 0 || amp == 0.0 || ph.norm() == 0.0 {
                    continue;
                }
                let factor = (amp / k as f64).sqrt() * ph / ph.norm();
                for c in 0..lay.n_chan {
                    let x = s.idx(spw * lay.n_chan + c, a, h);
                    if s.gains[x].norm() > 0.0 && !(s.flag[x] && s.gains[x] == Complex64::new(1.0, 0.0)) {
                        s.gains[x] /= factor;
                        s.err[x] /= factor.norm();
                    }
                }
            }
        }
    }
}

/// The product of the earlier solutions for antenna `a`, hand `h`, channel `g`, interval `int`
/// (None when any is flagged).
type Prior<'a> = &'a (dyn Fn(usize, usize, usize, usize) -> Option<Complex64> + Sync);

/// Phase-only G per (interval group, hand): `group_of(interval)` maps intervals to solution
/// cells (all to 0 for solint inf).
pub fn solve_g(acc: &Accum, lay: &Layout, prior: Prior, n_cells: usize, group_of: &(dyn Fn(usize) -> usize + Sync), refant: usize, min_snr: f64) -> Solved {
    let n = lay.ants.len();
    let ng = lay.n_gchan();
    let n_int = lay.intervals.len();
    // The prior of every (interval, antenna, channel, hand), evaluated once: the sums below
    // read two of them per cell, and calling through `prior` there cost more than the sums.
    let at = |int: usize, a: usize, g: usize, h: usize| ((int * n + a) * ng + g) * 2 + h;
    let priors: Vec<Option<Complex64>> = (0..n_int * n * ng * 2)
        .into_par_iter()
        .map(|x| {
            let (h, g, a, int) = (x % 2, (x / 2) % ng, (x / (2 * ng)) % n, x / (2 * ng * n));
            prior(a, h, g, int)
        })
        .collect();
    let per_cell: Vec<[stefcal::Solution; 2]> = (0..n_cells)
        .into_par_iter()
        .map(|cell| {
            let ints: Vec<usize> = (0..n_int).filter(|&i| group_of(i) == cell).collect();
            // Pairs are independent: sum each in parallel (both hands in one pass over its
            // cells, which lie side by side), then fill the dense matrices.
            let pairs: Vec<(usize, usize, [Sum; 2])> = (0..n)
                .into_par_iter()
                .flat_map_iter(|i| {
                    let (ints, priors) = (&ints, &priors);
                    (i + 1..n).map(move |j| {
                        let p = lay.pair(i, j);
                        let mut sums = [Sum::default(); 2];
                        for &int in ints {
                            let base = acc.index(lay, int, p, 0, 0);
                            for (x, c) in acc.cells[base..base + ng * 2].iter().enumerate() {
                                let (g, hand) = (x / 2, x % 2);
                                if c.q <= 0.0 {
                                    continue;
                                }
                                let (Some(bi), Some(bj)) = (priors[at(int, i, g, hand)], priors[at(int, j, g, hand)]) else { continue };
                                let rc = Complex64::new(c.r.re as f64, c.r.im as f64);
                                let sum = &mut sums[hand];
                                sum.r += rc * bi.conj() * bj;
                                sum.q += c.q as f64 * bi.norm_sqr() * bj.norm_sqr();
                                sum.s += c.s as f64;
                                sum.n += c.n as f64;
                            }
                        }
                        (i, j, sums)
                    })
                })
                .collect();
            [0, 1].map(|hand| {
                let mut nm = Normal::zeros(n);
                for (i, j, sums) in &pairs {
                    let x = &sums[hand];
                    add_cell(&mut nm, *i, *j, x.r, x.q, x.s, x.n);
                }
                stefcal::solve(&nm, Mode::PhaseOnly, refant)
            })
        })
        .collect();
    // [cell][hand], as from_solutions reads them.
    let sols: Vec<stefcal::Solution> = per_cell.into_iter().flatten().collect();
    Solved::from_solutions(sols, n_cells, n, min_snr)
}

pub fn to_c32(g: Complex64) -> Complex32 {
    Complex32::new(g.re as f32, g.im as f32)
}
