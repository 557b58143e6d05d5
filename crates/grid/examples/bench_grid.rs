//! Benchmark: our gridder against ducc0's wgridder on the same visibilities, accuracy and
//! thread counts, in one run. Prints JSON.
//!
//! The problem is a realistic DSA-110 group: 96 antennas in a T (random positions along a
//! 1.8 km east-west and a 2.2 km north-south arm, longest baseline ≈ 2.6 km), all 4560 cross
//! and 96 auto correlations, 24 integrations of 12.885 s around transit at Dec +55° (latitude
//! 37.23°), 768 channels over 1311.25–1498.75 MHz, a 4096² image of 3″ pixels (3.4° across),
//! single precision, ε = 1e-4, w-gridding.
//!
//! ```text
//! cargo run --release -p grid --example bench_grid -- [--dir DIR] [--threads 1,2] [--reps 2]
//!     [--nchan 768] [--npix 4096] [--pix-arcsec 3] [--eps 1e-4] [--f64] [--python PATH]
//!     [--no-ducc] [--no-degrid]
//! ```
//! `benches/grid/run.sh` runs it with the defaults.

use grid::{Complex, GridParams, GridPlan};

#[path = "../tests/common/npy.rs"]
#[allow(dead_code)]
mod npy;
use npy::{as_bytes, write_npy};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};
use std::time::Instant;

struct Args {
    dir: PathBuf,
    threads: Vec<usize>,
    reps: usize,
    nchan: usize,
    npix: usize,
    pix_arcsec: f64,
    eps: f64,
    f64_: bool,
    python: PathBuf,
    ducc: bool,
    degrid: bool,
}

fn parse_args() -> Args {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut a = Args {
        dir: std::env::temp_dir().join("contimg-bench-grid"),
        threads: vec![1, std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)],
        reps: 2,
        nchan: 768,
        npix: 4096,
        pix_arcsec: 3.0,
        eps: 1e-4,
        f64_: false,
        python: std::env::var_os("CONTIMG_ORACLE_PYTHON").map(PathBuf::from).unwrap_or_else(|| root.join(".venv/bin/python")),
        ducc: true,
        degrid: true,
    };
    a.threads.dedup();
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < v.len() {
        let next = |i: usize| v.get(i + 1).cloned().unwrap_or_else(|| panic!("{} needs a value", v[i]));
        match v[i].as_str() {
            "--dir" => { a.dir = next(i).into(); i += 1 }
            "--threads" => { a.threads = next(i).split(',').map(|s| s.parse().unwrap()).collect(); i += 1 }
            "--reps" => { a.reps = next(i).parse().unwrap(); i += 1 }
            "--nchan" => { a.nchan = next(i).parse().unwrap(); i += 1 }
            "--npix" => { a.npix = next(i).parse().unwrap(); i += 1 }
            "--pix-arcsec" => { a.pix_arcsec = next(i).parse().unwrap(); i += 1 }
            "--eps" => { a.eps = next(i).parse().unwrap(); i += 1 }
            "--python" => { a.python = next(i).into(); i += 1 }
            "--f64" => a.f64_ = true,
            "--no-ducc" => a.ducc = false,
            "--no-degrid" => a.degrid = false,
            o => panic!("unknown argument {o}"),
        }
        i += 1;
    }
    a
}

/// uvw (m) of a T-shaped 96-antenna array, autos included, over 24 integrations at transit.
fn dsa110_like_uvw(rng: &mut ChaCha8Rng) -> Vec<[f64; 3]> {
    let nant = 96;
    let mut enu = Vec::with_capacity(nant);
    for k in 0..nant {
        if k < 48 {
            enu.push([rng.random_range(-1150.0..610.0), rng.random_range(-3.0..3.0), rng.random_range(-1.0..1.0)]);
        } else {
            enu.push([rng.random_range(-3.0..3.0), rng.random_range(-620.0..1600.0), rng.random_range(-1.0..1.0)]);
        }
    }
    let lat = 37.233387f64.to_radians();
    let dec = 55.0f64.to_radians();
    // equatorial (X toward HA=0 on the equator, Y east, Z north pole)
    let xyz: Vec<[f64; 3]> = enu
        .iter()
        .map(|&[e, n, u]| [-n * lat.sin() + u * lat.cos(), e, n * lat.cos() + u * lat.sin()])
        .collect();
    let mut out = Vec::new();
    for t in 0..24 {
        let ha = ((t as f64 - 11.5) * 12.884_902 / 86_164.0905 * 360.0).to_radians();
        for i in 0..nant {
            for j in i..nant {
                let b = [xyz[j][0] - xyz[i][0], xyz[j][1] - xyz[i][1], xyz[j][2] - xyz[i][2]];
                let u = ha.sin() * b[0] + ha.cos() * b[1];
                let v = -dec.sin() * ha.cos() * b[0] + dec.sin() * ha.sin() * b[1] + dec.cos() * b[2];
                let w = dec.cos() * ha.cos() * b[0] - dec.cos() * ha.sin() * b[1] + dec.sin() * b[2];
                out.push([u, v, w]);
            }
        }
    }
    out
}

fn read_npy_f32(path: &Path) -> Vec<f32> {
    let b = std::fs::read(path).unwrap();
    let hl = u16::from_le_bytes([b[8], b[9]]) as usize;
    assert!(String::from_utf8_lossy(&b[10..10 + hl]).contains("<f4"), "expected float32 {path:?}");
    b[10 + hl..].chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

fn stats(t: &[f64]) -> (f64, f64) {
    (t.iter().cloned().fold(f64::INFINITY, f64::min), t.iter().cloned().fold(0.0, f64::max))
}

fn main() {
    let a = parse_args();
    std::fs::create_dir_all(&a.dir).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(20260423);
    let uvw = dsa110_like_uvw(&mut rng);
    let nrow = uvw.len();
    let nchan = a.nchan;
    let freq: Vec<f64> = (0..nchan).map(|c| 1311.25e6 + 187.5e6 * c as f64 / (nchan.max(2) - 1) as f64).collect();
    let vis: Vec<Complex<f32>> =
        (0..nrow * nchan).map(|_| Complex::new(rng.random_range(-1.0f32..1.0), rng.random_range(-1.0f32..1.0))).collect();
    let nvis = nrow * nchan;
    let pix = (a.pix_arcsec / 3600.0f64).to_radians();
    let bmax = uvw.iter().map(|b| (b[0] * b[0] + b[1] * b[1] + b[2] * b[2]).sqrt()).fold(0.0, f64::max);
    eprintln!("{nrow} rows × {nchan} channels = {nvis} visibilities; longest baseline {bmax:.0} m");
    write_npy(&a.dir.join("uvw.npy"), "<f8", &[nrow, 3], as_bytes(&uvw));
    write_npy(&a.dir.join("freq.npy"), "<f8", &[nchan], as_bytes(&freq));
    write_npy(&a.dir.join("vis.npy"), "<c8", &[nrow, nchan], as_bytes(&vis));

    let mut params = GridParams::new(a.npix, a.npix, pix, pix, a.eps);
    params.do_wgridding = true;
    let mut ours = Vec::new();
    let mut last_dirty: Vec<f32> = Vec::new();
    let mut info_json = String::new();
    let img_for_degrid: Vec<f32> = {
        let mut r = ChaCha8Rng::seed_from_u64(7);
        (0..a.npix * a.npix).map(|_| r.random_range(-1.0f32..1.0)).collect()
    };
    write_npy(&a.dir.join("model.npy"), "<f4", &[a.npix, a.npix], as_bytes(&img_for_degrid));
    for &nt in &a.threads {
        params.nthreads = nt;
        let (mut t_all, mut t_plan, mut t_exec, mut t_deg) = (vec![], vec![], vec![], vec![]);
        for _ in 0..a.reps {
            let t0 = Instant::now();
            let plan = GridPlan::<f32>::new(&uvw, &freq, None, &params).unwrap();
            let t1 = Instant::now();
            last_dirty = plan.ms2dirty(&vis, None).unwrap();
            let t2 = Instant::now();
            t_plan.push((t1 - t0).as_secs_f64());
            t_exec.push((t2 - t1).as_secs_f64());
            t_all.push((t2 - t0).as_secs_f64());
            if a.degrid {
                let t3 = Instant::now();
                let out = plan.dirty2ms(&img_for_degrid, None).unwrap();
                t_deg.push(t3.elapsed().as_secs_f64() + (t1 - t0).as_secs_f64());
                std::hint::black_box(&out);
            }
            let i = plan.info();
            info_json = format!(
                "{{\"nu\": {}, \"nv\": {}, \"support\": {}, \"sigma\": {}, \"nplanes\": {}, \"epsilon_estimate\": {:e}, \"resident_planes\": {}, \"simd\": \"{:?}\"}}",
                i.nu, i.nv, i.support, i.sigma, i.nplanes, i.epsilon_estimate, i.resident_planes, i.simd
            );
            eprintln!("ours nthreads={nt}: plan {:.2}s + grid {:.2}s  {}", t_plan.last().unwrap(), t_exec.last().unwrap(), info_json);
        }
        ours.push((nt, t_all, t_plan, t_exec, t_deg));
    }
    let ours_dirty_path = a.dir.join("dirty_ours.npy");
    write_npy(&ours_dirty_path, "<f4", &[a.npix, a.npix], as_bytes(&last_dirty));

    // ducc0 on the same files
    let mut ducc_json = String::from("null");
    let mut diff = f64::NAN;
    if a.ducc {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../benches/grid/ducc_side.py");
        let threads = a.threads.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(",");
        let mut cmd = std::process::Command::new(&a.python);
        cmd.arg(&script).arg("--dir").arg(&a.dir).arg("--threads").arg(&threads).arg("--reps").arg(a.reps.to_string())
            .arg("--npix").arg(a.npix.to_string()).arg("--pix").arg(format!("{pix:e}")).arg("--eps").arg(format!("{:e}", a.eps));
        if !a.degrid {
            cmd.arg("--no-degrid");
        }
        let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {:?}: {e}", a.python));
        if !out.status.success() {
            panic!("ducc side failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        ducc_json = String::from_utf8(out.stdout).unwrap().trim().to_string();
        let dd = read_npy_f32(&a.dir.join("dirty_ducc.npy"));
        let (mut num, mut den) = (0.0f64, 0.0f64);
        for (x, y) in last_dirty.iter().zip(&dd) {
            num += ((x - y) as f64).powi(2);
            den += (*y as f64).powi(2);
        }
        diff = (num / den).sqrt();
    }
    // report
    let mut s = String::new();
    s.push_str("{\n");
    s.push_str(&format!(
        "  \"problem\": {{\"rows\": {nrow}, \"channels\": {nchan}, \"visibilities\": {nvis}, \"npix\": {}, \"pixel_arcsec\": {}, \"epsilon\": {:e}, \"precision\": \"f32\", \"wgridding\": true, \"longest_baseline_m\": {bmax:.1}}},\n",
        a.npix, a.pix_arcsec, a.eps
    ));
    s.push_str(&format!("  \"plan\": {info_json},\n  \"ours\": {{\n"));
    for (k, (nt, t_all, t_plan, t_exec, t_deg)) in ours.iter().enumerate() {
        let (lo, hi) = stats(t_all);
        let (dlo, dhi) = if t_deg.is_empty() { (f64::NAN, f64::NAN) } else { stats(t_deg) };
        s.push_str(&format!(
            "    \"{nt}\": {{\"ms2dirty_s\": [{lo:.3}, {hi:.3}], \"plan_s\": {:.3}, \"grid_s\": {:.3}, \"dirty2ms_s\": [{dlo:.3}, {dhi:.3}], \"vis_per_s_per_core\": {:.4e}}}{}\n",
            stats(t_plan).0,
            stats(t_exec).0,
            nvis as f64 / lo / *nt as f64,
            if k + 1 < ours.len() { "," } else { "" }
        ));
    }
    s.push_str("  },\n");
    s.push_str(&format!("  \"ducc0\": {ducc_json},\n"));
    if let Ok(d) = serde_json::from_str::<serde_json::Value>(&ducc_json) {
        s.push_str("  \"speedup_vs_ducc0\": {");
        let mut parts = Vec::new();
        for (nt, t_all, _, _, t_deg) in &ours {
            let g = d[nt.to_string()]["ms2dirty_s"][0].as_f64().unwrap_or(f64::NAN);
            let dg = d[nt.to_string()]["dirty2ms_s"][0].as_f64().unwrap_or(f64::NAN);
            let dlo = if t_deg.is_empty() { f64::NAN } else { stats(t_deg).0 };
            parts.push(format!("\"{nt}\": {{\"ms2dirty\": {:.3}, \"dirty2ms\": {:.3}}}", g / stats(t_all).0, dg / dlo));
        }
        s.push_str(&parts.join(", "));
        s.push_str("},\n");
    }
    s.push_str(&format!("  \"dirty_rel_l2_vs_ducc0\": {diff:e}\n}}"));
    println!("{s}");
}
