//! Whole small UVH5 files: open (probe, header, validation, chunk map) and read blocks of data.
//!
//! The bytes are written to a file in tmpfs and opened as contimg opens any input. Opening
//! must either succeed or return a `Uvh5Error`; never panic, hang or allocate beyond what the
//! file holds. When it opens, the first blocks are read both with direct `pread`s and through
//! libhdf5, and the two must agree wherever both succeed — a differential check of our chunk
//! map and hyperslab arithmetic against libhdf5's own.
//!
//! libhdf5 runs first in a forked child (`OpenOptions::isolate`, as in production), so its
//! own crashes on corrupt files become `UVH5_CORRUPT` errors here rather than findings; a
//! panic of ours in the child is re-raised in this process and still is one. To hunt libhdf5's
//! crashes themselves, run with `CONTIMG_UVH5_NO_ISOLATE=1` (and `-fork=1 -ignore_crashes=1`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use uvh5::{OpenOptions, Uvh5File, VisBlock};

fn path() -> std::path::PathBuf {
    let dir = if std::path::Path::new("/dev/shm").is_dir() { "/dev/shm".into() } else { std::env::temp_dir() };
    dir.join(format!("uvh5-fuzz-{}.h5", std::process::id()))
}

fn blocks(f: &Uvh5File) -> Vec<Result<VisBlock, String>> {
    let h = f.header();
    // Blocks as the converter reads them: a few whole rows, and a channel window.
    let b = h.n_blts.min(8);
    let c = h.n_freqs.min(16);
    let ranges = [(0..b, 0..h.n_freqs.min(64)), (h.n_blts.saturating_sub(b)..h.n_blts, c / 2..c)];
    ranges
        .into_iter()
        .map(|(blts, chans)| {
            let mut out = VisBlock::default();
            f.read_block(blts, chans, &mut out).map(|_| out).map_err(|e| e.code().to_owned())
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let p = path();
    std::fs::write(&p, data).unwrap();
    let direct = Uvh5File::open_with(&p, OpenOptions { direct_reads: true, ..OpenOptions::default() });
    if let Ok(f) = &direct {
        let via_hdf5 = Uvh5File::open_with(&p, OpenOptions { direct_reads: false, ..OpenOptions::default() }).expect("opens without direct reads too");
        let (a, b) = (blocks(f), blocks(&via_hdf5));
        for (x, y) in a.iter().zip(&b) {
            if let (Ok(x), Ok(y)) = (x, y) {
                let bits = |v: &VisBlock| v.vis.iter().map(|c| (c.re.to_bits(), c.im.to_bits())).collect::<Vec<_>>();
                assert_eq!(bits(x), bits(y), "visibilities differ between direct and libhdf5 reads");
                assert_eq!(x.flags, y.flags, "flags differ");
                assert_eq!(
                    x.nsamples.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    y.nsamples.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    "nsamples differ"
                );
            }
        }
    }
});
