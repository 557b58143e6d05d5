//! Reads every file of a group directory in parallel, through direct preads and through
//! libhdf5, and prints the times: `cargo run --release -p uvh5 --example read_group -- DIR`.
use rayon::prelude::*;
use std::time::Instant;

fn main() {
    let dir = std::env::args().nth(1).expect("directory of subband files");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "hdf5"))
        .collect();
    files.sort();
    for direct in [true, false, true] {
        // Drop the page cache between runs is not possible unprivileged; both read warm files.
        let t = Instant::now();
        let bytes: usize = files
            .par_iter()
            .map(|p| {
                let f = uvh5::Uvh5File::open_with(p, uvh5::OpenOptions { direct_reads: direct, ..Default::default() }).unwrap();
                let n = f.header().n_blts;
                let mut b = uvh5::VisBlock::default();
                let mut total = 0;
                // 4 integrations at a time, as the converter streams.
                let step = 4 * f.header().n_bls;
                let mut s = 0;
                while s < n {
                    let e = (s + step).min(n);
                    f.read_block(s..e, 0..f.header().n_freqs, &mut b).unwrap();
                    total += b.vis.len() * 13;
                    s = e;
                }
                total
            })
            .sum();
        let dt = t.elapsed().as_secs_f64();
        println!("{}: {:.2} s, {:.0} MB/s", if direct { "direct pread" } else { "libhdf5" }, dt, bytes as f64 / dt / 1e6);
    }
}
