//! `cargo run --release -p imaging --example image_ms -- MS PREFIX [size] [cell_arcsec] [niter]`:
//! the imaging chain without Node, for profiling.
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let mut cfg = imaging::ImageConfig::new(&a[1], &a[2]);
    if let Some(s) = a.get(3) {
        cfg.size = s.parse().unwrap();
    }
    if let Some(c) = a.get(4) {
        cfg.cell_arcsec = Some(c.parse().unwrap());
    }
    if let Some(n) = a.get(5) {
        cfg.niter = n.parse().unwrap();
    }
    cfg.pbcor = true;
    let s = imaging::image_ms(&cfg, &|p| eprintln!("{}", serde_json::to_string(&p).unwrap()), &|| false).unwrap_or_else(|e| {
        eprintln!("[{}] {e}", e.code());
        std::process::exit(1)
    });
    println!("{}", serde_json::to_string_pretty(&s).unwrap());
}
