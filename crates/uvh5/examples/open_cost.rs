//! What opening a file costs, with and without the chunk map for direct reads and with and
//! without the trial open in a child process (`OpenOptions::isolate`); then what one open and
//! whole read costs (with isolation and no direct reads, the child first reads the data too).
//!
//!   cargo run --release -p uvh5 --example open_cost -- FILE.hdf5 [REPEATS]
use std::time::Instant;

use uvh5::{OpenOptions, Uvh5File};

fn main() {
    let mut args = std::env::args().skip(1);
    let p = args.next().expect("a UVH5 file");
    let repeats: usize = args.next().map_or(11, |n| n.parse().unwrap());
    let configs = [false, true].into_iter().flat_map(|direct_reads| [false, true].map(|isolate| OpenOptions { direct_reads, isolate }));
    // Opens first, while the process is small: a forked child pays a copy-on-write fault for
    // each page of the parent's heap it writes, so the cost grows with the parent's heap.
    for options in configs.clone() {
        let mut times: Vec<f64> = (0..repeats)
            .map(|_| {
                let t = Instant::now();
                drop(Uvh5File::open_with(&p, options).unwrap());
                t.elapsed().as_secs_f64()
            })
            .collect();
        times.sort_by(f64::total_cmp);
        println!("{options:?}: open {:.1} ms (median of {repeats}, min {:.1})", times[repeats / 2] * 1e3, times[0] * 1e3);
    }
    for options in configs {
        let t = Instant::now();
        let b = Uvh5File::open_with(&p, options).unwrap().read_all().unwrap();
        println!("{options:?}: open + read_all {:.3} s ({} visibilities)", t.elapsed().as_secs_f64(), b.vis.len());
    }
}
