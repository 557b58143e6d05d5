//! Times a full-size group: `cargo run --release -p sim --example full_group -- DIR`.
fn main() {
    let dir = std::env::args().nth(1).expect("output directory");
    let mut cfg = sim::SimConfig::new(&dir);
    cfg.overwrite = true;
    let s = sim::simulate(&cfg, &|_| {}, &std::sync::atomic::AtomicBool::new(false)).unwrap();
    println!("{:.2} s, {:.2} GB", s.seconds, s.bytes_written as f64 / 1e9);
}
