//! `cargo run --release -p convert --example convert_dir -- DIR OUT.ms [--spw] [--zero]`: converts
//! the `*_sbNN.hdf5` files of DIR (one group) and prints the summary.
use std::sync::atomic::AtomicBool;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = &args[1];
    let out = std::path::PathBuf::from(&args[2]);
    let mut inputs = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if let Some(i) = name.find("_sb") {
            if name.ends_with(".hdf5") {
                inputs.push(convert::Input { subband: name[i + 3..i + 5].parse().unwrap(), path: p });
            }
        }
    }
    let mut cfg = convert::ConvertConfig::default();
    cfg.spw_per_subband = args.iter().any(|a| a == "--spw");
    if args.iter().any(|a| a == "--zero") {
        cfg.input_phase = convert::InputPhaseChoice::Force(phasing::InputPhase::Zero);
    }
    cfg.expected_subbands = inputs.len().max(16).min(16);
    if args.iter().any(|a| a == "--allow-missing") {
        cfg.allow_missing = true;
    } else {
        cfg.expected_subbands = inputs.len();
    }
    let _ = std::fs::remove_dir_all(&out);
    let s = convert::convert(&inputs, &out, &cfg, &|_| {}, &AtomicBool::new(false)).unwrap();
    println!("{}", serde_json::to_string_pretty(&s).unwrap());
}
