//! Opens every `*.hdf5` in a directory as the converter's plan does (in parallel on rayon's
//! pool) and with `open_each`, with and without isolation: what opening a group costs.
//!
//!   cargo run --release -p uvh5 --example open_group -- DIR [REPEATS]
use rayon::prelude::*;
use std::time::Instant;
use uvh5::{OpenOptions, Uvh5File};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("a directory of UVH5 files");
    let repeats: usize = args.next().map_or(5, |n| n.parse().unwrap());
    let mut paths: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "hdf5")).collect();
    paths.sort();
    let only: Option<usize> = std::env::var("ONLY").ok().map(|v| v.parse().unwrap());
    for (k, (isolate, each)) in [(false, false), (false, true), (true, false), (true, true)].into_iter().enumerate() {
        if only.is_some_and(|o| o != k) {
            continue;
        }
        let options = OpenOptions { direct_reads: true, isolate };
        let mut times: Vec<f64> = (0..repeats)
            .map(|_| {
                let t = Instant::now();
                let files: Vec<Uvh5File> = if each {
                    Uvh5File::open_each(&paths, options, |_, f| f.unwrap())
                } else {
                    paths.par_iter().map(|p| Uvh5File::open_with(p, options).unwrap()).collect()
                };
                let s = t.elapsed().as_secs_f64();
                drop(files);
                s
            })
            .collect();
        times.sort_by(f64::total_cmp);
        println!("isolate {isolate}, {}: {} files in {:.0} ms (median of {repeats}, min {:.0})", if each { "open_each" } else { "par_iter of open_with" }, paths.len(), times[repeats / 2] * 1e3, times[0] * 1e3);
    }
}
