//! Elliptical Gaussians and a Levenberg–Marquardt fit of several of them at once to the pixels of
//! an island.
//!
//! A component is (amplitude, x0, y0, σ_major, σ_minor, θ) in pixels, θ the angle of the major
//! axis from +x towards +y. The Jacobian is analytic; steps that leave the allowed region
//! (positive amplitude, sizes within bounds, the centre near the island) are refused like steps
//! that raise χ², which keeps the solver simple and the result physical.

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gaussian {
    pub amp: f64,
    pub x0: f64,
    pub y0: f64,
    pub sigma_major_px: f64,
    pub sigma_minor_px: f64,
    pub theta_rad: f64,
}

const NPAR: usize = 6;

impl Gaussian {
    fn from_params(p: &[f64]) -> Gaussian {
        Gaussian { amp: p[0], x0: p[1], y0: p[2], sigma_major_px: p[3], sigma_minor_px: p[4], theta_rad: p[5] }
    }

    fn params(&self) -> [f64; NPAR] {
        [self.amp, self.x0, self.y0, self.sigma_major_px, self.sigma_minor_px, self.theta_rad]
    }

    /// The value at (x, y) and its derivatives with respect to the six parameters.
    fn eval_with_gradient(&self, x: f64, y: f64) -> (f64, [f64; NPAR]) {
        let (s, c) = self.theta_rad.sin_cos();
        let (dx, dy) = (x - self.x0, y - self.y0);
        let u = dx * c + dy * s;
        let v = -dx * s + dy * c;
        let (a2, b2) = (self.sigma_major_px.powi(2), self.sigma_minor_px.powi(2));
        let e = (-0.5 * (u * u / a2 + v * v / b2)).exp();
        let g = self.amp * e;
        let grad = [
            e,
            g * (u * c / a2 - v * s / b2),
            g * (u * s / a2 + v * c / b2),
            g * u * u / (a2 * self.sigma_major_px),
            g * v * v / (b2 * self.sigma_minor_px),
            g * u * v * (1.0 / b2 - 1.0 / a2),
        ];
        (g, grad)
    }

    pub fn eval(&self, x: f64, y: f64) -> f64 {
        self.eval_with_gradient(x, y).0
    }

    /// The same Gaussian with σ_major ≥ σ_minor and θ in [0, π).
    pub fn normalised(mut self) -> Gaussian {
        if self.sigma_minor_px > self.sigma_major_px {
            std::mem::swap(&mut self.sigma_major_px, &mut self.sigma_minor_px);
            self.theta_rad += std::f64::consts::FRAC_PI_2;
        }
        self.theta_rad = self.theta_rad.rem_euclid(std::f64::consts::PI);
        self
    }
}

/// The pixels a fit sees: positions, background-subtracted values and weights (1/σ²).
pub struct Samples {
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    pub value: Vec<f64>,
    pub weight: Vec<f64>,
}

/// Where a component may go.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub x_range: (f64, f64),
    pub y_range: (f64, f64),
    pub sigma_range_px: (f64, f64),
}

impl Bounds {
    fn allows(&self, g: &Gaussian) -> bool {
        let within = |v: f64, r: (f64, f64)| v >= r.0 && v <= r.1;
        g.amp > 0.0
            && within(g.x0, self.x_range)
            && within(g.y0, self.y_range)
            && within(g.sigma_major_px, self.sigma_range_px)
            && within(g.sigma_minor_px, self.sigma_range_px)
            && g.theta_rad.is_finite()
    }
}

pub struct Fit {
    pub components: Vec<Gaussian>,
    pub chi2: f64,
    pub iterations: usize,
    pub converged: bool,
}

/// Fits the components jointly, starting from `init`; `None` if the start is outside the bounds.
/// A component whose `fixed_shape` is set keeps its starting shape: only its amplitude and
/// position move.
pub fn fit(s: &Samples, init: &[Gaussian], bounds: &Bounds, fixed_shape: &[bool], max_iterations: usize) -> Option<Fit> {
    let n = init.len() * NPAR;
    let mut p: Vec<f64> = init.iter().flat_map(|g| g.params()).collect();
    let unpack = |p: &[f64]| -> Vec<Gaussian> { p.chunks(NPAR).map(Gaussian::from_params).collect() };
    if !unpack(&p).iter().all(|g| bounds.allows(g)) {
        return None;
    }
    let mut chi2 = chi_squared(s, &unpack(&p));
    let mut lambda = 1e-3;
    let (mut jtj, mut jtr) = (vec![0.0; n * n], vec![0.0; n]);
    for iteration in 1..=max_iterations {
        normal_equations(s, &unpack(&p), &mut jtj, &mut jtr);
        // Fixed shape parameters get an identity row and no gradient: their step is zero.
        for k in (0..n).filter(|k| k % NPAR >= 3 && fixed_shape[k / NPAR]) {
            {
                for j in 0..n {
                    jtj[k * n + j] = 0.0;
                    jtj[j * n + k] = 0.0;
                }
                jtj[k * n + k] = 1.0;
                jtr[k] = 0.0;
            }
        }
        let mut improved = false;
        // Raise λ until a step lowers χ² inside the bounds, or give up at a flat minimum.
        while lambda < 1e10 {
            let mut a = jtj.clone();
            for i in 0..n {
                a[i * n + i] += lambda * jtj[i * n + i].max(1e-30);
            }
            let Some(step) = solve(&mut a, &jtr, n) else {
                lambda *= 10.0;
                continue;
            };
            let trial: Vec<f64> = p.iter().zip(&step).map(|(a, b)| a + b).collect();
            let comps = unpack(&trial);
            if comps.iter().all(|g| bounds.allows(g)) {
                let c2 = chi_squared(s, &comps);
                if c2 < chi2 {
                    let small = (chi2 - c2) <= 1e-10 * chi2.max(1e-300);
                    p = trial;
                    chi2 = c2;
                    lambda = (lambda / 10.0).max(1e-12);
                    improved = true;
                    if small {
                        return Some(Fit { components: unpack(&p).into_iter().map(Gaussian::normalised).collect(), chi2, iterations: iteration, converged: true });
                    }
                    break;
                }
            }
            lambda *= 10.0;
        }
        if !improved {
            return Some(Fit { components: unpack(&p).into_iter().map(Gaussian::normalised).collect(), chi2, iterations: iteration, converged: true });
        }
    }
    Some(Fit { components: unpack(&p).into_iter().map(Gaussian::normalised).collect(), chi2, iterations: max_iterations, converged: false })
}

fn model(comps: &[Gaussian], x: f64, y: f64) -> f64 {
    comps.iter().map(|g| g.eval(x, y)).sum()
}

pub fn chi_squared(s: &Samples, comps: &[Gaussian]) -> f64 {
    (0..s.x.len()).map(|i| s.weight[i] * (s.value[i] - model(comps, s.x[i], s.y[i])).powi(2)).sum()
}

/// JᵀWJ and JᵀW r over all samples.
fn normal_equations(s: &Samples, comps: &[Gaussian], jtj: &mut [f64], jtr: &mut [f64]) {
    let n = comps.len() * NPAR;
    jtj.fill(0.0);
    jtr.fill(0.0);
    let mut row = vec![0.0; n];
    for i in 0..s.x.len() {
        let mut m = 0.0;
        for (k, g) in comps.iter().enumerate() {
            let (v, grad) = g.eval_with_gradient(s.x[i], s.y[i]);
            m += v;
            row[k * NPAR..(k + 1) * NPAR].copy_from_slice(&grad);
        }
        let (w, r) = (s.weight[i], s.value[i] - m);
        for a in 0..n {
            let wa = w * row[a];
            jtr[a] += wa * r;
            for b in a..n {
                jtj[a * n + b] += wa * row[b];
            }
        }
    }
    for a in 0..n {
        for b in 0..a {
            jtj[a * n + b] = jtj[b * n + a];
        }
    }
}

/// Solves A x = b by Gaussian elimination with partial pivoting (A is small: 6 per component).
fn solve(a: &mut [f64], b: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut x = b.to_vec();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))?;
        if a[pivot * n + col].abs() < 1e-300 || !a[pivot * n + col].is_finite() {
            return None;
        }
        if pivot != col {
            for k in 0..n {
                a.swap(col * n + k, pivot * n + k);
            }
            x.swap(col, pivot);
        }
        for row in col + 1..n {
            let f = a[row * n + col] / a[col * n + col];
            if f != 0.0 {
                for k in col..n {
                    a[row * n + k] -= f * a[col * n + k];
                }
                x[row] -= f * x[col];
            }
        }
    }
    for col in (0..n).rev() {
        let mut v = x[col];
        for k in col + 1..n {
            v -= a[col * n + k] * x[k];
        }
        x[col] = v / a[col * n + col];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples_of(truth: &[Gaussian], size: usize) -> Samples {
        let mut s = Samples { x: vec![], y: vec![], value: vec![], weight: vec![] };
        for y in 0..size {
            for x in 0..size {
                s.x.push(x as f64);
                s.y.push(y as f64);
                s.value.push(model(truth, x as f64, y as f64));
                s.weight.push(1.0);
            }
        }
        s
    }

    #[test]
    fn recovers_two_blended_gaussians_exactly() {
        let truth = [
            Gaussian { amp: 3.0, x0: 12.3, y0: 14.1, sigma_major_px: 3.0, sigma_minor_px: 2.0, theta_rad: 0.6 },
            Gaussian { amp: 1.5, x0: 19.7, y0: 16.4, sigma_major_px: 2.5, sigma_minor_px: 2.2, theta_rad: 2.0 },
        ];
        let s = samples_of(&truth, 32);
        let init = [
            Gaussian { amp: 2.5, x0: 12.0, y0: 14.0, sigma_major_px: 2.4, sigma_minor_px: 2.4, theta_rad: 0.0 },
            Gaussian { amp: 1.0, x0: 20.0, y0: 16.0, sigma_major_px: 2.4, sigma_minor_px: 2.4, theta_rad: 0.0 },
        ];
        let b = Bounds { x_range: (0.0, 31.0), y_range: (0.0, 31.0), sigma_range_px: (0.5, 20.0) };
        let f = fit(&s, &init, &b, &[false, false], 200).unwrap();
        for (g, t) in f.components.iter().zip(&truth) {
            let t = t.normalised();
            assert!((g.amp - t.amp).abs() < 1e-6 && (g.x0 - t.x0).abs() < 1e-6 && (g.y0 - t.y0).abs() < 1e-6, "{g:?} vs {t:?}");
            assert!((g.sigma_major_px - t.sigma_major_px).abs() < 1e-6 && (g.sigma_minor_px - t.sigma_minor_px).abs() < 1e-6);
            assert!((g.theta_rad - t.theta_rad).abs() < 1e-5, "{g:?} vs {t:?}");
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let g = Gaussian { amp: 2.0, x0: 1.3, y0: -0.4, sigma_major_px: 2.1, sigma_minor_px: 1.2, theta_rad: 0.7 };
        let (_, grad) = g.eval_with_gradient(2.0, 0.5);
        let p = g.params();
        for k in 0..NPAR {
            let h = 1e-6;
            let (mut up, mut dn) = (p, p);
            up[k] += h;
            dn[k] -= h;
            let fd = (Gaussian::from_params(&up).eval(2.0, 0.5) - Gaussian::from_params(&dn).eval(2.0, 0.5)) / (2.0 * h);
            assert!((fd - grad[k]).abs() < 1e-6, "parameter {k}: {fd} vs {}", grad[k]);
        }
    }
}
