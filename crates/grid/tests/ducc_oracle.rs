//! Our results against ducc0's wgridder (the reference implementation), number for number:
//! same inputs, same conventions, compared to the requested accuracy.
//!
//! Runs `test/oracle/ducc_grid.py` with `CONTIMG_ORACLE_PYTHON` (default
//! `<repo>/.venv/bin/python`, made by `scripts/oracle-venv.sh`). A missing interpreter fails
//! the test unless `CONTIMG_SKIP_ORACLE=1`.

mod common;
use common::*;
use common::npy::{self, as_bytes};
use grid::{Complex, GridParams, GridPlan};
use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> Option<PathBuf> {
    if std::env::var("CONTIMG_SKIP_ORACLE").is_ok_and(|v| v == "1") {
        return None;
    }
    let p = std::env::var_os("CONTIMG_ORACLE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/python"));
    assert!(
        p.exists(),
        "oracle interpreter {p:?} not found: run scripts/oracle-venv.sh, set CONTIMG_ORACLE_PYTHON, \
         or set CONTIMG_SKIP_ORACLE=1 to skip the ducc0 comparison"
    );
    Some(p)
}

struct Case {
    name: &'static str,
    func: &'static str,
    f32_: bool,
    params: GridParams,
    weights: bool,
    mask: bool,
}

fn kw(p: &GridParams) -> String {
    format!(
        "{{\"npix_x\": {}, \"npix_y\": {}, \"pixsize_x\": {:e}, \"pixsize_y\": {:e}, \"epsilon\": {:e}, \
         \"do_wgridding\": {}, \"nthreads\": 2, \"flip_u\": {}, \"flip_v\": {}, \"flip_w\": {}, \
         \"divide_by_n\": {}, \"center_x\": {:e}, \"center_y\": {:e}}}",
        p.npix_x,
        p.npix_y,
        p.pixsize_x_rad,
        p.pixsize_y_rad,
        p.epsilon,
        if p.do_wgridding { "true" } else { "false" },
        p.flip_u,
        p.flip_v,
        p.flip_w,
        p.divide_by_n,
        p.center_x_rad,
        p.center_y_rad
    )
}

#[test]
fn matches_ducc0() {
    let Some(py) = python() else {
        eprintln!("CONTIMG_SKIP_ORACLE=1: skipping the ducc0 comparison");
        return;
    };
    let p = problem(77, 3000, 32, 256, 192, 0.03, 1e-4);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (nrow, nchan) = (p.uvw.len(), p.freq.len());
    npy::write_npy(&d.join("uvw.npy"), "<f8", &[nrow, 3], as_bytes(&p.uvw));
    npy::write_npy(&d.join("freq.npy"), "<f8", &[nchan], as_bytes(&p.freq));
    npy::write_npy(&d.join("vis64.npy"), "<c16", &[nrow, nchan], as_bytes(&p.vis));
    npy::write_npy(&d.join("vis32.npy"), "<c8", &[nrow, nchan], as_bytes(&to_f32(&p.vis)));
    npy::write_npy(&d.join("wgt64.npy"), "<f8", &[nrow, nchan], as_bytes(&p.weight));
    let w32: Vec<f32> = p.weight.iter().map(|&x| x as f32).collect();
    npy::write_npy(&d.join("wgt32.npy"), "<f4", &[nrow, nchan], as_bytes(&w32));
    npy::write_npy(&d.join("mask.npy"), "|u1", &[nrow, nchan], &p.mask);
    let img = image(78, 256 * 192);
    let img32: Vec<f32> = img.iter().map(|&x| x as f32).collect();
    npy::write_npy(&d.join("dirty64.npy"), "<f8", &[256, 192], as_bytes(&img));
    npy::write_npy(&d.join("dirty32.npy"), "<f4", &[256, 192], as_bytes(&img32));

    let base = p.params.clone();
    let with = |f: &dyn Fn(&mut GridParams)| {
        let mut q = base.clone();
        f(&mut q);
        q
    };
    let cases = vec![
        Case { name: "g_f64_w", func: "vis2dirty", f32_: false, params: with(&|q| q.epsilon = 1e-7), weights: true, mask: true },
        Case { name: "g_f32_w", func: "vis2dirty", f32_: true, params: with(&|q| q.epsilon = 1e-4), weights: true, mask: true },
        Case { name: "g_f32_2d", func: "vis2dirty", f32_: true, params: with(&|q| { q.epsilon = 1e-3; q.do_wgridding = false }), weights: false, mask: false },
        Case {
            name: "g_f64_opts",
            func: "vis2dirty",
            f32_: false,
            params: with(&|q| { q.epsilon = 1e-9; q.flip_v = true; q.divide_by_n = false; q.center_x_rad = 0.01; q.center_y_rad = -0.02 }),
            weights: true,
            mask: false,
        },
        Case { name: "g_legacy_ms2dirty", func: "ms2dirty", f32_: true, params: with(&|q| q.epsilon = 1e-4), weights: false, mask: true },
        Case { name: "d_f64_w", func: "dirty2vis", f32_: false, params: with(&|q| q.epsilon = 1e-7), weights: true, mask: true },
        Case { name: "d_f32_w", func: "dirty2vis", f32_: true, params: with(&|q| q.epsilon = 1e-4), weights: false, mask: false },
    ];
    let json: Vec<String> = cases
        .iter()
        .map(|c| {
            let t = if c.f32_ { "32" } else { "64" };
            let opt = |b: bool, n: &str| if b { format!("\"{n}{t}.npy\"") } else { "null".into() };
            format!(
                "{{\"name\": \"{}\", \"func\": \"{}\", \"vis\": \"vis{t}.npy\", \"dirty\": \"dirty{t}.npy\", \"wgt\": {}, \"mask\": {}, \"kw\": {}}}",
                c.name,
                c.func,
                opt(c.weights, "wgt"),
                if c.mask { "\"mask.npy\"" } else { "null" },
                kw(&c.params)
            )
        })
        .collect();
    std::fs::write(d.join("cases.json"), format!("[{}]", json.join(",\n"))).unwrap();
    let script = repo_root().join("test/oracle/ducc_grid.py");
    let out = std::process::Command::new(&py).arg(&script).arg(d).output().unwrap();
    assert!(out.status.success(), "oracle failed: {}", String::from_utf8_lossy(&out.stderr));
    eprint!("{}", String::from_utf8_lossy(&out.stdout));

    for c in &cases {
        let theirs = npy::read_npy(&d.join(format!("{}.out.npy", c.name)));
        let mask = c.mask.then_some(&p.mask[..]);
        let (ours, err): (Vec<f64>, f64) = if c.func == "dirty2vis" {
            let v: Vec<Complex<f64>> = if c.f32_ {
                let plan = GridPlan::<f32>::new(&p.uvw, &p.freq, mask, &c.params).unwrap();
                c_to_f64(&plan.dirty2ms(&img32, c.weights.then_some(&w32[..])).unwrap())
            } else {
                let plan = GridPlan::<f64>::new(&p.uvw, &p.freq, mask, &c.params).unwrap();
                plan.dirty2ms(&img, c.weights.then_some(&p.weight[..])).unwrap()
            };
            let flat: Vec<f64> = v.iter().flat_map(|z| [z.re, z.im]).collect();
            let e = rel_l2(&flat, &theirs);
            (flat, e)
        } else {
            let v: Vec<f64> = if c.f32_ {
                let plan = GridPlan::<f32>::new(&p.uvw, &p.freq, mask, &c.params).unwrap();
                r_to_f64(&plan.ms2dirty(&to_f32(&p.vis), c.weights.then_some(&w32[..])).unwrap())
            } else {
                let plan = GridPlan::<f64>::new(&p.uvw, &p.freq, mask, &c.params).unwrap();
                plan.ms2dirty(&p.vis, c.weights.then_some(&p.weight[..])).unwrap()
            };
            let e = rel_l2(&v, &theirs);
            (v, e)
        };
        assert_eq!(ours.len(), theirs.len(), "{}", c.name);
        eprintln!("{}: relative l2 difference to ducc0 {err:.3e} (epsilon {:e})", c.name, c.params.epsilon);
        assert!(err <= c.params.epsilon, "{}: {err:e} > {:e}", c.name, c.params.epsilon);
    }
}
