//! Robust noise: the median absolute deviation scaled to a Gaussian σ, over finite pixels, so
//! that the sources in an image barely move it.

/// 1.4826 × median |x − median(x)| over the finite values; `None` when there are none.
pub fn mad_sigma(values: &[f32]) -> Option<f64> {
    let mut v: Vec<f32> = values.iter().copied().filter(|x| x.is_finite()).collect();
    let med = median(&mut v)?;
    for x in v.iter_mut() {
        *x = (*x as f64 - med).abs() as f32;
    }
    Some(1.4826 * median(&mut v)?)
}

/// The median (mean of the middle two for an even count), reordering `v`.
fn median(v: &mut [f32]) -> Option<f64> {
    let n = v.len();
    if n == 0 {
        return None;
    }
    let (_, &mut hi, _) = v.select_nth_unstable_by(n / 2, f32::total_cmp);
    if n % 2 == 1 {
        return Some(hi as f64);
    }
    // The lower middle is the largest of the lower half that select_nth left before it.
    let lo = v[..n / 2].iter().copied().fold(f32::NEG_INFINITY, f32::max);
    Some((lo as f64 + hi as f64) / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_mad_of_small_sets() {
        assert_eq!(mad_sigma(&[]), None);
        assert_eq!(mad_sigma(&[f32::NAN]), None);
        // median 3, deviations {2,1,0,1,97} → median 1.
        assert!((mad_sigma(&[1.0, 2.0, 3.0, 4.0, 100.0]).unwrap() - 1.4826).abs() < 1e-9);
        // even count: median 2.5, deviations {1.5,0.5,0.5,1.5} → 1.0; NaN ignored.
        assert!((mad_sigma(&[1.0, 2.0, f32::NAN, 3.0, 4.0]).unwrap() - 1.4826).abs() < 1e-9);
    }

    #[test]
    fn gaussian_noise_gives_its_sigma() {
        // A deterministic Gaussian sample (Box–Muller on a Weyl sequence), σ = 0.37, with a few
        // bright "sources" that a plain rms would follow and the MAD must not.
        let n = 200_000;
        let mut v: Vec<f32> = (0..n)
            .map(|i| {
                let u1 = ((i as f64 * 0.618_033_988_749_895) % 1.0).max(1e-12);
                let u2 = (i as f64 * 0.414_213_562_373_095) % 1.0;
                (0.37 * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
            })
            .collect();
        for x in v.iter_mut().step_by(1000) {
            *x = 50.0;
        }
        let s = mad_sigma(&v).unwrap();
        assert!((s / 0.37 - 1.0).abs() < 0.01, "σ = {s}");
    }
}
