//! What opening a file costs, with and without the chunk map for direct reads and with and
//! without the isolated trial open in a child process; then one whole read.
//!
//!   cargo run --release -p uvh5 --example open_cost -- FILE.hdf5 [REPEATS]
use std::time::Instant;

use uvh5::{OpenOptions, Uvh5File};

fn main() {
    let mut args = std::env::args().skip(1);
    let p = args.next().expect("a UVH5 file");
    let repeats: usize = args.next().map_or(11, |n| n.parse().unwrap());
    for direct_reads in [false, true] {
        for isolate in [false, true] {
            let options = OpenOptions { direct_reads, isolate };
            let mut times: Vec<f64> = (0..repeats)
                .map(|_| {
                    let t = Instant::now();
                    drop(Uvh5File::open_with(&p, options).unwrap());
                    t.elapsed().as_secs_f64()
                })
                .collect();
            times.sort_by(f64::total_cmp);
            let t = Instant::now();
            let b = Uvh5File::open_with(&p, options).unwrap().read_all().unwrap();
            println!(
                "direct_reads={direct_reads} isolate={isolate}: open {:.1} ms (median of {repeats}, min {:.1}), open + read_all {:.3} s ({} vis)",
                times[repeats / 2] * 1e3,
                times[0] * 1e3,
                t.elapsed().as_secs_f64(),
                b.vis.len()
            );
        }
    }
}
