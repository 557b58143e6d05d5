//! Write a synthetic MS of DSA-110 size and print the write rate.
//!
//! ```text
//! cargo run --release -p ms --example write_bench -- OUT_DIR [--ntimes 24] [--nant 117]
//!     [--nant-active 96] [--nchan 768] [--nspw 1] [--imaging] [--keep] [--no-floor]
//! ```
//!
//! Defaults are one full group: 24 integrations × 4656 baselines (96 active antennas with
//! autocorrelations) = 111,744 rows × 768 channels × 2 correlations (DATA = 1.37 GB). One block
//! per integration and SPW is written, as the converter does. The figure printed is
//! bytes on disk / wall time, once at `finish()` (data in the page cache) and once after fsync of
//! every file (data on the device). Unless `--no-floor`, the same number of bytes is also written
//! with plain 4 MiB `write` calls + fsync, before and after the MS: the raw floor to compare with
//! (twice, because page-cache writeback of one run slows the next).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ms::{
    corr, AntennaSpec, Complex32, DirectionFrame, FieldSpec, HistoryEntry, MsSpec, MsWriter,
    ObservationSpec, RowBlock, SpwSpec,
};

struct Args {
    out: PathBuf,
    ntimes: usize,
    nant: usize,
    nant_active: usize,
    nchan: usize,
    nspw: usize,
    imaging: bool,
    keep: bool,
    floor: bool,
}

fn parse() -> Args {
    let mut a = Args {
        out: PathBuf::new(),
        ntimes: 24,
        nant: 117,
        nant_active: 96,
        nchan: 768,
        nspw: 1,
        imaging: false,
        keep: false,
        floor: true,
    };
    let mut it = std::env::args().skip(1);
    let mut out = None;
    while let Some(s) = it.next() {
        let mut num = |name: &str| -> usize {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} needs a number"))
        };
        match s.as_str() {
            "--ntimes" => a.ntimes = num("--ntimes"),
            "--nant" => a.nant = num("--nant"),
            "--nant-active" => a.nant_active = num("--nant-active"),
            "--nchan" => a.nchan = num("--nchan"),
            "--nspw" => a.nspw = num("--nspw"),
            "--imaging" => a.imaging = true,
            "--keep" => a.keep = true,
            "--no-floor" => a.floor = false,
            _ if s.starts_with("--") => panic!("unknown option {s}"),
            _ => out = Some(PathBuf::from(s)),
        }
    }
    a.out = out.expect("usage: write_bench OUT_DIR [options]");
    assert!(a.nant_active <= a.nant && a.nchan.is_multiple_of(a.nspw));
    a
}

fn dir_bytes(p: &Path) -> u64 {
    let mut n = 0;
    for e in std::fs::read_dir(p).unwrap() {
        let e = e.unwrap();
        let m = e.metadata().unwrap();
        n += if m.is_dir() {
            dir_bytes(&e.path())
        } else {
            m.len()
        };
    }
    n
}

fn fsync_tree(p: &Path) {
    for e in std::fs::read_dir(p).unwrap() {
        let e = e.unwrap();
        if e.metadata().unwrap().is_dir() {
            fsync_tree(&e.path());
        } else {
            std::fs::File::open(e.path()).unwrap().sync_all().unwrap();
        }
    }
}

fn main() {
    let a = parse();
    std::fs::create_dir_all(&a.out).unwrap();
    let path = a.out.join("write_bench.ms");
    if path.exists() {
        std::fs::remove_dir_all(&path).unwrap();
    }
    let nchan = a.nchan / a.nspw;
    let ncorr = 2;
    let nbl = a.nant_active * (a.nant_active + 1) / 2;
    let t0 = 60000.0 * 86400.0;
    let dt = 12.884902;
    let base = [-2409261.7339, -4477916.0571, 3839371.8929];
    let antennas: Vec<AntennaSpec> = (0..a.nant)
        .map(|i| {
            let mut s = AntennaSpec::new(
                format!("{}", i + 1),
                "DSA-110",
                [
                    base[0] + i as f64,
                    base[1] - (i as f64) * 3.0,
                    base[2] + (i % 7) as f64,
                ],
                4.65,
            );
            s.flagged = i >= a.nant_active;
            s
        })
        .collect();
    let spws: Vec<SpwSpec> = (0..a.nspw)
        .map(|s| SpwSpec {
            name: format!("sb{:02}", a.nspw - 1 - s),
            chan_freq_hz: (0..nchan)
                .map(|c| 1311.25e6 + 0.5 * 244140.625 + (s * nchan + c) as f64 * 244140.625)
                .collect(),
            chan_width_hz: vec![244140.625; nchan],
            ref_frequency_hz: None,
        })
        .collect();
    let spec = MsSpec {
        antennas,
        spws,
        corr_types: vec![corr::XX, corr::YY],
        fields: vec![FieldSpec {
            name: "meridian".into(),
            code: String::new(),
            ra_rad: 1.0,
            dec_rad: 0.6,
            time_mjd_s: t0 + 0.5 * a.ntimes as f64 * dt,
        }],
        observation: ObservationSpec {
            telescope_name: "OVRO_MMA".into(),
            observer: "write_bench".into(),
            telescope_location_itrf_m: Some(base),
            ..Default::default()
        },
        history: vec![HistoryEntry {
            time_mjd_s: t0,
            message: "write_bench".into(),
            origin: format!("contimg {}", env!("CARGO_PKG_VERSION")),
            application: "write_bench".into(),
            cli_command: std::env::args().collect(),
            ..Default::default()
        }],
        imaging_columns: a.imaging,
        direction_frame: DirectionFrame::Icrs,
        rows_hint: a.ntimes * a.nspw * nbl,
        ..Default::default()
    };

    // One block = one integration of one SPW; generated once, reused with a new TIME.
    let nv = nbl * nchan * ncorr;
    let mut k = 12345u32;
    let mut rnd = move || {
        k = k.wrapping_mul(1664525).wrapping_add(1013904223);
        (k >> 8) as f32 / (1u32 << 24) as f32 - 0.5
    };
    let (mut a1, mut a2) = (Vec::with_capacity(nbl), Vec::with_capacity(nbl));
    for i in 0..a.nant_active as i32 {
        for j in i..a.nant_active as i32 {
            a1.push(i);
            a2.push(j);
        }
    }
    // Autocorrelations are real (DESIGN.md §3), cross-correlations random.
    let data: Vec<Complex32> = (0..nv)
        .map(|i| {
            let bl = i / (nchan * ncorr);
            let (re, im) = (rnd(), rnd());
            Complex32::new(re, if a1[bl] == a2[bl] { 0.0 } else { im })
        })
        .collect();
    let flag: Vec<bool> = (0..nv).map(|_| rnd() > 0.49).collect();
    let wspec: Vec<f32> = (0..nv).map(|_| 1.0).collect();
    let weight = vec![nchan as f32; nbl * ncorr];
    let sigma = vec![1.0f32; nbl * ncorr];
    // Baseline vectors pos(ant2) - pos(ant1) (not projected: this is a write benchmark).
    let pos = |i: i32| spec.antennas[i as usize].position_itrf_m;
    let uvw: Vec<[f64; 3]> = (0..nbl)
        .map(|b| {
            let (p, q) = (pos(a1[b]), pos(a2[b]));
            [q[0] - p[0], q[1] - p[1], q[2] - p[2]]
        })
        .collect();
    let zeros_f64 = vec![0.0f64; nbl];
    let interval = vec![dt; nbl];
    let flag_row = vec![false; nbl];
    let field = vec![0i32; nbl];
    let scan = vec![1i32; nbl];
    let ddids: Vec<Vec<i32>> = (0..a.nspw as i32).map(|s| vec![s; nbl]).collect();
    let mut time = zeros_f64.clone();

    if a.floor {
        // Same byte count as a full-size MS without imaging columns (measured), before the MS
        // write, so that page-cache writeback of one does not slow the other.
        let expect = (a.ntimes * a.nspw * nbl * nchan * ncorr) as u64 * (8 + 4)
            + (a.ntimes * a.nspw * nbl) as u64 * 64;
        raw_floor(&a.out, expect, "before");
    }
    let start = Instant::now();
    let mut w = MsWriter::create(&path, &spec).unwrap();
    for t in 0..a.ntimes {
        time.fill(t0 + (t as f64 + 0.5) * dt);
        for ddid in &ddids {
            let block = RowBlock {
                time_mjd_s: &time,
                time_centroid_mjd_s: &time,
                interval_s: &interval,
                exposure_s: &interval,
                antenna1: &a1,
                antenna2: &a2,
                field_id: &field,
                data_desc_id: ddid,
                scan_number: &scan,
                uvw_m: &uvw,
                data: &data,
                flag: &flag,
                weight_spectrum: &wspec,
                weight: &weight,
                sigma: &sigma,
                flag_row: &flag_row,
            };
            w.write_rows(&block).unwrap();
        }
    }
    let summary = w.finish().unwrap();
    let t_finish = start.elapsed().as_secs_f64();
    fsync_tree(&path);
    let t_sync = start.elapsed().as_secs_f64();
    let bytes = dir_bytes(&path);
    let mb = bytes as f64 / 1e6;
    let data_mb = (summary.n_rows * nchan * ncorr * 8) as f64 / 1e6;
    println!(
        "MS {}: {} rows x {} chan x {} corr x {} spw, imaging columns {}; tiles {:?}",
        path.display(),
        summary.n_rows,
        nchan,
        ncorr,
        a.nspw,
        a.imaging,
        summary.layout
    );
    println!("on disk {mb:.1} MB (DATA alone {data_mb:.1} MB)");
    println!(
        "write (to page cache, until finish): {t_finish:.2} s = {:.0} MB/s",
        mb / t_finish
    );
    println!(
        "write + fsync:                       {t_sync:.2} s = {:.0} MB/s",
        mb / t_sync
    );

    if a.floor {
        raw_floor(&a.out, bytes, "after");
    }
    if !a.keep {
        std::fs::remove_dir_all(&path).unwrap();
    }
}

/// Write `bytes` with plain 4 MiB `write` calls, then fsync: the floor any writer is measured
/// against on the same file system.
fn raw_floor(dir: &Path, bytes: u64, when: &str) {
    let raw = dir.join("write_bench.raw");
    let chunk = vec![0x5au8; 4 << 20];
    let start = Instant::now();
    let mut f = std::fs::File::create(&raw).unwrap();
    let mut left = bytes as usize;
    while left > 0 {
        let n = left.min(chunk.len());
        f.write_all(&chunk[..n]).unwrap();
        left -= n;
    }
    let t_cache = start.elapsed().as_secs_f64();
    f.sync_all().unwrap();
    let t = start.elapsed().as_secs_f64();
    drop(f);
    std::fs::remove_file(&raw).unwrap();
    let mb = bytes as f64 / 1e6;
    println!(
        "raw floor ({when}), {mb:.1} MB in 4 MiB writes: {t_cache:.2} s = {:.0} MB/s (page cache), {t:.2} s = {:.0} MB/s (+ fsync)",
        mb / t_cache,
        mb / t
    );
}
