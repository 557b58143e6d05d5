//! The gridder against a direct DFT with the same conventions, for both directions, with
//! and without w-gridding, in both precisions.

mod common;
use common::*;
use grid::{dft, dirty2ms, ms2dirty};

fn run(seed: u64, eps: f64, wgrid: bool, f32_: bool, tol: f64) {
    let mut p = problem(seed, 300, 6, 64, 48, 0.12, eps);
    p.params.do_wgridding = wgrid;
    let (uvw, freq) = (&p.uvw, &p.freq);
    let wt = Some(&p.weight[..]);
    let mk = Some(&p.mask[..]);
    // visibilities → image
    let reference = dft::ms2dirty(uvw, freq, &p.vis, wt, mk, &p.params);
    let ours: Vec<f64> = if f32_ {
        let w32: Vec<f32> = p.weight.iter().map(|&x| x as f32).collect();
        r_to_f64(&ms2dirty(uvw, freq, &to_f32(&p.vis), Some(&w32), mk, &p.params).unwrap())
    } else {
        ms2dirty(uvw, freq, &p.vis, wt, mk, &p.params).unwrap()
    };
    let e1 = rel_l2(&ours, &reference);
    // image → visibilities
    let img = image(seed + 1, 64 * 48);
    let reference = dft::dirty2ms(uvw, freq, &img, wt, mk, &p.params);
    let ours = if f32_ {
        let w32: Vec<f32> = p.weight.iter().map(|&x| x as f32).collect();
        let i32_: Vec<f32> = img.iter().map(|&x| x as f32).collect();
        c_to_f64(&dirty2ms(uvw, freq, &i32_, Some(&w32), mk, &p.params).unwrap())
    } else {
        dirty2ms(uvw, freq, &img, wt, mk, &p.params).unwrap()
    };
    let e2 = rel_l2_c(&ours, &reference);
    eprintln!("eps={eps:e} wgrid={wgrid} f32={f32_}: ms2dirty {e1:.3e}, dirty2ms {e2:.3e}");
    assert!(e1 <= tol, "ms2dirty error {e1:e} > {tol:e}");
    assert!(e2 <= tol, "dirty2ms error {e2:e} > {tol:e}");
}

#[test]
fn f32_eps_1e3() {
    run(1, 1e-3, true, true, 1e-3);
    run(2, 1e-3, false, true, 1e-3);
}

#[test]
fn f32_eps_1e5() {
    run(3, 1e-5, true, true, 1e-5);
    run(4, 1e-5, false, true, 1e-5);
}

#[test]
fn f64_eps_1e5() {
    run(5, 1e-5, true, false, 1e-5);
    run(6, 1e-5, false, false, 1e-5);
}

#[test]
fn f64_eps_1e12() {
    run(7, 1e-12, true, false, 1e-10);
    run(8, 1e-12, false, false, 1e-10);
}
