//! StEFCal (Salvini & Wijnholds 2014) on accumulated normal-equation sums.
//!
//! With the data model `V_ij = g_i conj(g_j) M_ij` (CASA's, for a row with ANTENNA1 = i) and
//! gains constant over a cell, the weighted least-squares cost depends on the visibilities only
//! through, per antenna pair, `R_ij = Σ w V conj(M)`, `Q_ij = Σ w |M|²` and `S_ij = Σ w |V|²`:
//!
//! ```text
//! χ² = Σ_{i<j} S_ij − 2 Re(conj(g_i) g_j R_ij) + |g_i|² |g_j|² Q_ij
//! ```
//!
//! StEFCal's update for antenna i holds the others fixed: `g_i = Σ_j g_j R_ij / Σ_j |g_j|² Q_ij`
//! (with `R_ji = conj(R_ij)`), every second iteration averaged with the previous one; the
//! phase-only variant maximises `Re(conj(g_i) Σ_j g_j R_ij)` under `|g_i| = 1`, i.e. takes the
//! phase of the same sum.

use num_complex::Complex64;

/// The sums of one solution cell over antenna pairs, dense and Hermitian:
/// `r[i * n + j]` for every i ≠ j (`r[j * n + i] = conj(r[i * n + j])`), `q`, `s` symmetric.
pub struct Normal {
    pub n: usize,
    pub r: Vec<Complex64>,
    pub q: Vec<f64>,
    pub s: Vec<f64>,
    /// Samples per pair (for the degrees of freedom of χ²).
    pub count: Vec<f64>,
}

impl Normal {
    pub fn zeros(n: usize) -> Normal {
        Normal { n, r: vec![Complex64::default(); n * n], q: vec![0.0; n * n], s: vec![0.0; n * n], count: vec![0.0; n * n] }
    }

    /// Add the sums of pair (i, j), i < j.
    pub fn add(&mut self, i: usize, j: usize, r: Complex64, q: f64, s: f64, count: f64) {
        let n = self.n;
        self.r[i * n + j] += r;
        self.r[j * n + i] += r.conj();
        for (a, b) in [(i, j), (j, i)] {
            self.q[a * n + b] += q;
            self.s[a * n + b] += s;
            self.count[a * n + b] += count;
        }
    }

    /// Antennas with any weight.
    pub fn has_data(&self, i: usize) -> bool {
        self.q[i * self.n..(i + 1) * self.n].iter().any(|&q| q > 0.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    AmplitudePhase,
    PhaseOnly,
}

/// The solution of one cell: gains (1 for antennas without data), their 1σ errors and SNRs.
pub struct Solution {
    pub gains: Vec<Complex64>,
    pub err: Vec<f64>,
    pub snr: Vec<f64>,
    pub has_data: Vec<bool>,
    pub iterations: usize,
}

const MAX_ITER: usize = 200;
const TOL: f64 = 1e-10;

/// Solve one cell; `refant`'s phase is set to zero when it has data.
pub fn solve(nm: &Normal, mode: Mode, refant: usize) -> Solution {
    let n = nm.n;
    let has_data: Vec<bool> = (0..n).map(|i| nm.has_data(i)).collect();
    let mut g: Vec<Complex64> = (0..n).map(|i| Complex64::new(if has_data[i] { 1.0 } else { 0.0 }, 0.0)).collect();
    // Amplitude start: the mean |V|/|M| scale, sqrt(Σ|R| / Σ Q) — the amplitude of a
    // uniform gain that would explain the data.
    if mode == Mode::AmplitudePhase {
        // (|R| as sqrt of the squared norm: hypot's care for overflow is not needed here, and it
        // cost as much as the iterations on a full group's 1536 B cells.)
        let (num, den): (f64, f64) = (0..n * n).fold((0.0, 0.0), |(a, b), k| (a + nm.r[k].norm_sqr().sqrt(), b + nm.q[k]));
        if den > 0.0 {
            let a = (num / den).sqrt();
            for (gi, &h) in g.iter_mut().zip(&has_data) {
                if h {
                    *gi = Complex64::new(a, 0.0);
                }
            }
        }
    }
    let mut iterations = 0;
    let mut next = g.clone();
    for it in 0..MAX_ITER {
        iterations = it + 1;
        for i in 0..n {
            if !has_data[i] {
                continue;
            }
            let (mut num, mut den) = (Complex64::default(), 0.0);
            let row = i * n;
            for (j, gj) in g.iter().enumerate() {
                if j == i {
                    continue;
                }
                num += gj * nm.r[row + j];
                den += gj.norm_sqr() * nm.q[row + j];
            }
            next[i] = match mode {
                Mode::AmplitudePhase => if den > 0.0 { num / den } else { g[i] },
                Mode::PhaseOnly => {
                    let a = num.norm();
                    if a > 0.0 { num / a } else { g[i] }
                }
            };
        }
        if it % 2 == 1 {
            for (x, &old) in next.iter_mut().zip(&g) {
                *x = 0.5 * (*x + old);
                if mode == Mode::PhaseOnly && x.norm() > 0.0 {
                    *x /= x.norm();
                }
            }
        }
        let (mut dn, mut gn) = (0.0, 0.0);
        for (x, &old) in next.iter().zip(&g) {
            dn += (x - old).norm_sqr();
            gn += x.norm_sqr();
        }
        std::mem::swap(&mut g, &mut next);
        if gn == 0.0 || dn <= TOL * TOL * gn {
            break;
        }
    }
    if refant < n && has_data[refant] && g[refant].norm() > 0.0 {
        let rot = g[refant].conj() / g[refant].norm();
        for x in g.iter_mut() {
            *x *= rot;
        }
    }
    let (err, snr) = errors(nm, &g, &has_data, mode);
    for (x, &h) in g.iter_mut().zip(&has_data) {
        if !h {
            *x = Complex64::new(1.0, 0.0);
        }
    }
    Solution { gains: g, err, snr, has_data, iterations }
}

/// 1σ errors of the complex gain (both parts: √2 × the error of one) from the curvature of χ²
/// (`Σ_j |g_j|² Q_ij`), with the unit-weight variance estimated from the residual χ² over its
/// degrees of freedom (so that the weights' scale does not matter); SNR = |g| / σ. On a
/// simulated calibrator this gives CASA's SNR to ~1%.
fn errors(nm: &Normal, g: &[Complex64], has_data: &[bool], mode: Mode) -> (Vec<f64>, Vec<f64>) {
    let n = nm.n;
    let (mut chi2, mut samples) = (0.0, 0.0);
    for i in 0..n {
        for j in i + 1..n {
            let k = i * n + j;
            if nm.q[k] <= 0.0 {
                continue;
            }
            chi2 += nm.s[k] - 2.0 * (g[i].conj() * g[j] * nm.r[k]).re + g[i].norm_sqr() * g[j].norm_sqr() * nm.q[k];
            samples += nm.count[k];
        }
    }
    let n_data = has_data.iter().filter(|&&h| h).count() as f64;
    let params = if mode == Mode::PhaseOnly { n_data } else { 2.0 * n_data };
    // Complex samples carry two real numbers each.
    let dof = (2.0 * samples - params).max(1.0);
    let var = (chi2.max(0.0) / dof).max(0.0);
    let mut err = vec![0.0; n];
    let mut snr = vec![0.0; n];
    for i in 0..n {
        if !has_data[i] {
            continue;
        }
        let curv: f64 = (0..n).filter(|&j| j != i).map(|j| g[j].norm_sqr() * nm.q[i * n + j]).sum();
        if curv > 0.0 {
            // Per real part of g_i σ² = var / curv; the complex error adds both parts.
            err[i] = (2.0 * var / curv).sqrt();
            snr[i] = if err[i] > 0.0 { g[i].norm() / err[i] } else { f64::INFINITY };
        }
    }
    (err, snr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random_gains(rng: &mut ChaCha8Rng, n: usize, unit: bool) -> Vec<Complex64> {
        (0..n)
            .map(|_| {
                let a = if unit { 1.0 } else { rng.random_range(0.5..1.5) };
                Complex64::from_polar(a, rng.random_range(-3.0..3.0))
            })
            .collect()
    }

    /// Sums of noiseless data V = g_i conj(g_j) M over a few samples per pair.
    fn normal_of(g: &[Complex64], rng: &mut ChaCha8Rng, skip: Option<usize>) -> Normal {
        let n = g.len();
        let mut nm = Normal::zeros(n);
        for i in 0..n {
            for j in i + 1..n {
                if Some(i) == skip || Some(j) == skip {
                    continue;
                }
                for _ in 0..3 {
                    let m = Complex64::new(rng.random_range(-2.0..2.0), rng.random_range(-2.0..2.0));
                    let w = rng.random_range(0.5..2.0);
                    let v = g[i] * g[j].conj() * m;
                    nm.add(i, j, w * v * m.conj(), w * m.norm_sqr(), w * v.norm_sqr(), 1.0);
                }
            }
        }
        nm
    }

    fn referenced(g: &[Complex64], refant: usize) -> Vec<Complex64> {
        let rot = g[refant].conj() / g[refant].norm();
        g.iter().map(|x| x * rot).collect()
    }

    #[test]
    fn recovers_known_gains_exactly_without_noise() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let truth = random_gains(&mut rng, 20, false);
        let nm = normal_of(&truth, &mut rng, None);
        let sol = solve(&nm, Mode::AmplitudePhase, 3);
        let want = referenced(&truth, 3);
        for (a, b) in sol.gains.iter().zip(&want) {
            assert!((a - b).norm() < 1e-8, "{a} vs {b}");
        }
        assert!(sol.gains[3].im.abs() < 1e-12 && sol.gains[3].re > 0.0);
        assert!(sol.snr.iter().all(|&s| s > 1e6), "noiseless SNR is huge: {:?}", &sol.snr[..3]);
    }

    #[test]
    fn phase_only_recovers_unit_gains_and_flags_antennas_without_data() {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let truth = random_gains(&mut rng, 12, true);
        let nm = normal_of(&truth, &mut rng, Some(5));
        let sol = solve(&nm, Mode::PhaseOnly, 0);
        assert!(!sol.has_data[5]);
        assert_eq!(sol.gains[5], Complex64::new(1.0, 0.0));
        let want = referenced(&truth, 0);
        for (i, (a, b)) in sol.gains.iter().zip(&want).enumerate() {
            if i != 5 {
                assert!((a - b).norm() < 1e-8, "{i}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn snr_follows_the_noise() {
        // With noise σ per part on V and unit |M|, σ(g) ≈ σ / sqrt(Σ_j |g_j|²·samples).
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let n = 30;
        let truth = vec![Complex64::new(1.0, 0.0); n];
        let sigma = 0.1;
        let mut nm = Normal::zeros(n);
        let samples = 50;
        for i in 0..n {
            for j in i + 1..n {
                for _ in 0..samples {
                    let m = Complex64::from_polar(1.0, rng.random_range(-3.0..3.0));
                    let noise = Complex64::new(rng.random::<f64>() - 0.5, rng.random::<f64>() - 0.5) * (sigma * 12f64.sqrt());
                    let v = truth[i] * truth[j].conj() * m + noise;
                    nm.add(i, j, v * m.conj(), 1.0, v.norm_sqr(), 1.0);
                }
            }
        }
        let sol = solve(&nm, Mode::AmplitudePhase, 0);
        let want_err = std::f64::consts::SQRT_2 * sigma / (((n - 1) * samples) as f64).sqrt();
        for &e in &sol.err {
            assert!((e / want_err - 1.0).abs() < 0.15, "{e} vs {want_err}");
        }
    }
}
