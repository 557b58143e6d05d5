//! Adjointness, and stability across thread counts, SIMD paths and memory modes; the
//! conventions (flips, image centre, n-shift, 1/n) against the direct DFT.

mod common;
use common::*;
use grid::{dft, Complex, GridPlan, SimdMode};

fn dot_re(a: &[Complex<f64>], b: &[Complex<f64>]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x.re * y.re + x.im * y.im).sum()
}

fn norm_c(a: &[Complex<f64>]) -> f64 {
    a.iter().map(|x| x.norm_sqr()).sum::<f64>().sqrt()
}

fn norm(a: &[f64]) -> f64 {
    a.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// |⟨V, G d⟩ − ⟨Gᴴ V, d⟩| relative to the Cauchy–Schwarz scale ‖V‖‖G d‖ (the inner products
/// themselves are sums of random-sign terms, so relative to them rounding looks larger).
fn adjoint_mismatch(vis: &[Complex<f64>], gd: &[Complex<f64>], ghv: &[f64], d: &[f64]) -> f64 {
    let lhs = dot_re(vis, gd);
    let rhs: f64 = ghv.iter().zip(d).map(|(a, b)| a * b).sum();
    let scale = (norm_c(vis) * norm_c(gd)).max(norm(ghv) * norm(d));
    (lhs - rhs).abs() / scale
}

#[test]
fn adjointness_f64() {
    for wgrid in [true, false] {
        let mut p = problem(11, 400, 5, 64, 64, 0.1, 1e-12);
        p.params.do_wgridding = wgrid;
        let plan = GridPlan::<f64>::new(&p.uvw, &p.freq, Some(&p.mask), &p.params).unwrap();
        let img = image(12, 64 * 64);
        let gv = plan.dirty2ms(&img, Some(&p.weight)).unwrap();
        let ghv = plan.ms2dirty(&p.vis, Some(&p.weight)).unwrap();
        let rel = adjoint_mismatch(&p.vis, &gv, &ghv, &img);
        eprintln!("wgrid={wgrid}: adjointness mismatch {rel:e}");
        assert!(rel < 1e-13, "{rel:e}");
    }
}

#[test]
fn adjointness_f32() {
    let p = problem(13, 400, 5, 64, 64, 0.1, 1e-4);
    let plan = GridPlan::<f32>::new(&p.uvw, &p.freq, Some(&p.mask), &p.params).unwrap();
    let img = image(14, 64 * 64);
    let img32: Vec<f32> = img.iter().map(|&x| x as f32).collect();
    let w32: Vec<f32> = p.weight.iter().map(|&x| x as f32).collect();
    let gv = c_to_f64(&plan.dirty2ms(&img32, Some(&w32)).unwrap());
    let ghv = r_to_f64(&plan.ms2dirty(&to_f32(&p.vis), Some(&w32)).unwrap());
    let rel = adjoint_mismatch(&p.vis, &gv, &ghv, &img);
    eprintln!("f32: adjointness mismatch {rel:e}");
    assert!(rel < 1e-6, "{rel:e}");
}

fn both(p: &Problem, params: &grid::GridParams) -> (Vec<f64>, Vec<Complex<f64>>) {
    let plan = GridPlan::<f64>::new(&p.uvw, &p.freq, Some(&p.mask), params).unwrap();
    let img = image(99, params.npix_x * params.npix_y);
    (plan.ms2dirty(&p.vis, Some(&p.weight)).unwrap(), plan.dirty2ms(&img, Some(&p.weight)).unwrap())
}

fn both32(p: &Problem, params: &grid::GridParams) -> (Vec<f64>, Vec<Complex<f64>>) {
    let plan = GridPlan::<f32>::new(&p.uvw, &p.freq, Some(&p.mask), params).unwrap();
    let img: Vec<f32> = image(99, params.npix_x * params.npix_y).iter().map(|&x| x as f32).collect();
    let w32: Vec<f32> = p.weight.iter().map(|&x| x as f32).collect();
    (
        r_to_f64(&plan.ms2dirty(&to_f32(&p.vis), Some(&w32)).unwrap()),
        c_to_f64(&plan.dirty2ms(&img, Some(&w32)).unwrap()),
    )
}

#[test]
fn thread_counts_agree() {
    let p = problem(21, 2000, 16, 96, 80, 0.08, 1e-9);
    let mut prm = p.params.clone();
    prm.nthreads = 1;
    let (d1, v1) = both(&p, &prm);
    let (s1, w1) = both32(&p, &{ let mut q = prm.clone(); q.epsilon = 1e-4; q });
    for nt in [2, 4] {
        prm.nthreads = nt;
        let (d, v) = both(&p, &prm);
        let (e1, e2) = (rel_l2(&d, &d1), rel_l2_c(&v, &v1));
        let (s, w) = both32(&p, &{ let mut q = prm.clone(); q.epsilon = 1e-4; q });
        let (e3, e4) = (rel_l2(&s, &s1), rel_l2_c(&w, &w1));
        eprintln!("nthreads={nt}: f64 {e1:e} {e2:e}  f32 {e3:e} {e4:e}");
        assert!(e1 < 1e-13 && e2 < 1e-13, "f64 thread dependence {e1:e} {e2:e}");
        assert!(e3 < 2e-6 && e4 < 2e-6, "f32 thread dependence {e3:e} {e4:e}");
    }
}

#[test]
fn simd_paths_agree() {
    // f64 paths agree to rounding. In f32 the paths round differently (FMA or not, other FFT
    // codelets) and the grid correction amplifies grid rounding noise by up to ~1/ψ̂ at the
    // image edge cubed, a factor that grows as σ shrinks: with the planner's σ the f32 paths
    // agree to a fraction of ε, with σ ≥ 1.6 to ~1e-6.
    let p = problem(31, 1500, 8, 64, 64, 0.1, 1e-10);
    let mut prm = p.params.clone();
    prm.simd = SimdMode::Scalar;
    let (d0, v0) = both(&p, &prm);
    let reference = dft::ms2dirty(&p.uvw, &p.freq, &p.vis, Some(&p.weight), Some(&p.mask), &prm);
    let e0 = rel_l2(&d0, &reference);
    assert!(e0 < 1e-10, "scalar path error {e0:e}");
    let mut q32 = prm.clone();
    q32.epsilon = 1e-4;
    let mut q32s = q32.clone();
    q32s.sigma_min = 1.6;
    let (s0, w0) = both32(&p, &q32);
    let (t0, x0) = both32(&p, &q32s);
    for mode in [SimdMode::Avx2, SimdMode::Avx512, SimdMode::Auto] {
        prm.simd = mode;
        q32.simd = mode;
        q32s.simd = mode;
        let path = mode.resolve();
        let (d, v) = both(&p, &prm);
        let (s, w) = both32(&p, &q32);
        let (t, x) = both32(&p, &q32s);
        let (e1, e2, e3, e4) = (rel_l2(&d, &d0), rel_l2_c(&v, &v0), rel_l2(&s, &s0), rel_l2_c(&w, &w0));
        let (e5, e6) = (rel_l2(&t, &t0), rel_l2_c(&x, &x0));
        eprintln!(
            "{mode:?} ({path:?}) vs scalar: f64 {e1:.1e} {e2:.1e}; f32 {e3:.1e} {e4:.1e}; f32 σ≥1.6 {e5:.1e} {e6:.1e}; \
             f32 errors vs DFT: scalar {:.1e}, this path {:.1e}",
            rel_l2(&s0, &reference),
            rel_l2(&s, &reference)
        );
        assert!(e1 < 1e-13 && e2 < 1e-13, "{mode:?}");
        assert!(e3 < 0.2 * q32.epsilon && e4 < 0.2 * q32.epsilon, "{mode:?}");
        assert!(e5 < 2e-6 && e6 < 2e-6, "{mode:?}");
        assert!(rel_l2(&s, &reference) < q32.epsilon);
    }
}

#[test]
fn plane_windows_match_ring() {
    // fewer resident w-plane grids than the kernel support: several passes
    let p = problem(41, 800, 8, 64, 64, 0.15, 1e-9);
    let (d0, v0) = both(&p, &p.params);
    let plan = GridPlan::<f64>::new(&p.uvw, &p.freq, Some(&p.mask), &p.params).unwrap();
    let info = plan.info().clone();
    assert!(info.nplanes > info.support, "{info:?}");
    let grid_bytes = info.plane_bytes;
    for k in [1usize, 3] {
        let mut prm = p.params.clone();
        prm.max_grid_bytes = k * grid_bytes;
        let (d, v) = both(&p, &prm);
        let (e1, e2) = (rel_l2(&d, &d0), rel_l2_c(&v, &v0));
        eprintln!("{k} resident planes: {e1:e} {e2:e}");
        assert!(e1 < 1e-13 && e2 < 1e-13);
    }
}

#[test]
fn conventions_against_dft() {
    let base = problem(51, 300, 4, 48, 64, 0.12, 1e-11);
    let cases: Vec<(&str, Box<dyn Fn(&mut grid::GridParams)>)> = vec![
        ("flip_u", Box::new(|p| p.flip_u = true)),
        ("flip_v", Box::new(|p| p.flip_v = true)),
        ("flip_w", Box::new(|p| p.flip_w = true)),
        ("no 1/n", Box::new(|p| p.divide_by_n = false)),
        ("no nshift", Box::new(|p| p.allow_nshift = false)),
        ("centre", Box::new(|p| { p.center_x_rad = 0.02; p.center_y_rad = -0.035; })),
        ("centre+flips", Box::new(|p| { p.center_x_rad = -0.01; p.center_y_rad = 0.03; p.flip_v = true; p.flip_u = true; })),
        ("2-D with 1/n", Box::new(|p| { p.do_wgridding = false; p.divide_by_n = true; })),
    ];
    for (name, f) in cases {
        let mut prm = base.params.clone();
        f(&mut prm);
        let (d, v) = both(&base, &prm);
        let rd = dft::ms2dirty(&base.uvw, &base.freq, &base.vis, Some(&base.weight), Some(&base.mask), &prm);
        let img = image(99, prm.npix_x * prm.npix_y);
        let rv = dft::dirty2ms(&base.uvw, &base.freq, &img, Some(&base.weight), Some(&base.mask), &prm);
        let (e1, e2) = (rel_l2(&d, &rd), rel_l2_c(&v, &rv));
        eprintln!("{name}: {e1:e} {e2:e}");
        assert!(e1 < 1e-9 && e2 < 1e-9, "{name}: {e1:e} {e2:e}");
    }
}
