use std::time::Instant;
fn main() {
    let p = std::env::args().nth(1).unwrap();
    for direct in [false, true] {
        let t = Instant::now();
        let f = uvh5::Uvh5File::open_with(&p, uvh5::OpenOptions { direct_reads: direct }).unwrap();
        let t_open = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let b = f.read_all().unwrap();
        println!("direct={direct} open {:.3} s read_all {:.3} s ({} vis)", t_open, t.elapsed().as_secs_f64(), b.vis.len());
    }
}
