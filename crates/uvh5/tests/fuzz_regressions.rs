//! Replays every input the fuzzers ever flagged (`fuzz/regressions/<target>/`) through the
//! stable toolchain, so `cargo test` catches a regression without nightly or cargo-fuzz.
//! Each must be handled without a panic: a `Uvh5Error` with a code, or a clean read.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use uvh5::{OpenOptions, Uvh5File, VisBlock};

fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions").join(target);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// All rows and channels, read with direct preads or only through libhdf5.
fn read_all(path: &Path, direct_reads: bool) -> Option<VisBlock> {
    let f = Uvh5File::open_with(path, OpenOptions { direct_reads, ..Default::default() }).ok()?;
    let mut b = VisBlock::default();
    f.read_block(0..f.header().n_blts, 0..f.header().n_freqs, &mut b).ok()?;
    Some(b)
}

#[test]
fn whole_file_findings_open_or_fail_cleanly_and_both_read_paths_agree() {
    let files = inputs("uvh5_file");
    assert!(!files.is_empty());
    for f in files {
        if f.to_string_lossy().contains("libhdf5-hang") {
            continue; // 60 s to time out: see a_file_on_which_libhdf5_hangs_is_an_error
        }
        match Uvh5File::open(&f) {
            // libhdf5 reads that input's nsamples from past a heap buffer: its values are
            // whatever lies there, different from one read to the next.
            Ok(_) if f.to_string_lossy().contains("libhdf5-overread-18f84afa") => {}
            Ok(_) => {
                let (a, b) = (read_all(&f, true), read_all(&f, false));
                if let (Some(a), Some(b)) = (a, b) {
                    let bits = |v: &VisBlock| v.vis.iter().map(|c| (c.re.to_bits(), c.im.to_bits())).collect::<Vec<_>>();
                    assert!(bits(&a) == bits(&b), "{}: visibilities differ between read paths", f.display());
                    assert!(a.flags == b.flags, "{}: flags differ between read paths", f.display());
                    let ns = |v: &VisBlock| v.nsamples.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert!(ns(&a) == ns(&b), "{}: nsamples differ between read paths", f.display());
                }
            }
            Err(e) => {
                assert!(e.code().starts_with("UVH5_"), "{}: {e}", f.display());
                assert!(e.to_string().contains(&*f.to_string_lossy()), "{e}");
            }
        }
    }
}

#[test]
fn libhdf5_leak_finding_is_a_clean_error() {
    // A chunk dimension of 0 in Data/visdata: libhdf5 refuses it (and leaks 64 bytes doing so).
    let f = inputs("uvh5_file").into_iter().find(|p| p.to_string_lossy().contains("libhdf5-leak")).unwrap();
    let e = Uvh5File::open(&f).unwrap_err();
    assert_eq!(e.code(), "UVH5_HDF5");
    assert!(e.to_string().contains("chunk dimension must be positive"), "{e}");
}

#[test]
fn chunk_index_findings_parse_without_panicking() {
    for f in inputs("chunk_index") {
        let data = std::fs::read(&f).unwrap();
        if data.len() < 5 {
            continue;
        }
        let so = [2u8, 4, 8, 8][(data[0] & 3) as usize];
        let rank = 1 + ((data[0] >> 2) & 3) as usize;
        let max_chunks = 1 + ((data[0] >> 4) as usize) * 64;
        let oh = u32::from_le_bytes([data[1], data[2], data[3], data[4]]) as u64;
        if let Ok(e) = uvh5::fuzzing::chunks(&data[5..], oh, so, 8, rank, max_chunks) {
            assert!(e.len() <= max_chunks);
        }
    }
}

#[test]
fn a_corrupt_chunk_index_is_read_only_through_libhdf5() {
    // Data/nsamples (all 1.0 as written, one chunk per row) lists 9 good chunks then garbage
    // keys. libhdf5's per-chunk lookup still finds every good chunk, but its reads (h5py's, so
    // pyuvdata's) miss rows 7 and 8 and give the fill value there; the direct path used the
    // lookup and read 1.0. Now the index is refused as corrupt and both paths read the same.
    let f = inputs("uvh5_file").into_iter().find(|p| p.to_string_lossy().contains("direct-vs-libhdf5-fc778bc1")).unwrap();
    let file = Uvh5File::open(&f).unwrap();
    assert!(!file.layout().direct_read);
    let b = read_all(&f, true).unwrap();
    let row = file.header().n_freqs * file.header().n_pols;
    assert!(b.nsamples[..7 * row].iter().all(|&v| v == 1.0));
    assert!(b.nsamples[7 * row..].iter().all(|&v| v == 0.0), "rows 7.. are the fill value, as h5py reads them");
}

#[test]
fn real_chunk_indexes_are_accepted_whole() {
    // The seeds are valid files written by h5py (benches/fuzz/make_seeds.py): the strict
    // checks must accept their indexes, or every real file would lose its direct reads.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/chunk_index");
    let expected = [("catalog_chunked", 12), ("chunked", 16), ("gzip", 2), ("int32_chunked", 1), ("legacy_chunked_dsa", 2)];
    for (name, n) in expected {
        let data = std::fs::read(dir.join(name)).unwrap();
        let rank = 1 + ((data[0] >> 2) & 3) as usize;
        let oh = u32::from_le_bytes([data[1], data[2], data[3], data[4]]) as u64;
        let got = uvh5::fuzzing::chunks(&data[5..], oh, 8, 8, rank, 1000).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(got.len(), n, "{name}");
        assert!(got.windows(2).all(|w| w[0].offset < w[1].offset), "{name}: key order");
    }
}

#[test]
fn real_files_pass_the_local_heap_check() {
    // Valid files written by h5py (the seeds; one with a phase-center catalog, whose
    // subgroups are walked too) and pyuvdata's test file: every group's local heap is accepted.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("fuzz/seeds/uvh5_file")).unwrap().map(|e| e.unwrap().path()).collect();
    files.push(root.join("test/data/pyuvdata/zen.2458098.45361.HH_downselected.uvh5"));
    assert!(files.len() >= 8);
    for f in files {
        Uvh5File::open(&f).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn a_corrupt_string_heap_is_an_error_not_a_crash() {
    // A global-heap object (Header/instrument's) claims 3170534137668829187 bytes. libhdf5 1.10
    // copies that many (H5HG_read) and the process died with SIGSEGV; the heap is now walked
    // before libhdf5 reads it.
    let f = inputs("uvh5_file").into_iter().find(|p| p.to_string_lossy().contains("vlen-string")).unwrap();
    let e = Uvh5File::open(&f).unwrap_err();
    assert_eq!(e.code(), "UVH5_HDF5", "{e}");
    assert!(e.to_string().contains("reading Header/version"), "{e}"); // the first string in that heap
    assert!(e.to_string().contains("corrupt variable-length string storage"), "{e}");
}

/// The input named `prefix*` in `fuzz/regressions/uvh5_file/`.
fn input(prefix: &str) -> PathBuf {
    inputs("uvh5_file").into_iter().find(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix)).unwrap()
}

/// A copy of `input(prefix)` in a temporary directory with the 8 bytes at `at` set to `value`.
fn patched(prefix: &str, at: usize, value: u64) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(input(prefix)).unwrap();
    bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
    let p = dir.path().join(prefix);
    std::fs::write(&p, bytes).unwrap();
    (dir, p)
}

#[test]
fn files_that_crash_libhdf5_are_errors_naming_the_file() {
    // Each of these killed the process inside libhdf5 1.10 (`contimg inspect` died of SIGSEGV):
    // NULL dereferences in H5VM_memcpyvv (reading a scalar header value) and in
    // H5F__accum_read (listing Header/extra_keywords). Their Data group's local heap is not
    // where its address says (the fuzzer inserted bytes before it): that is refused now
    // before libhdf5 reads anything (localheap.rs), as libhdf5 itself refuses it ("bad local
    // heap signature") once it gets there.
    for (name, heap) in [("libhdf5-crash-925bdddd", 16600), ("libhdf5-crash-91d1da18", 16272)] {
        let f = input(name);
        let e = Uvh5File::open(&f).unwrap_err();
        assert_eq!(e.code(), "UVH5_CORRUPT", "{e}");
        let expected = format!("{}: corrupt file: Data: corrupt local heap at address {heap} (no local heap signature)", f.display());
        assert_eq!(e.to_string(), expected);
    }
    // With Data's heap address pointed at a valid heap (the root group's, at 680), libhdf5
    // crashes as before. It now touches a file first in a child process, whose crash is this
    // error; this test process goes on.
    for (name, heap_addr_at) in [("libhdf5-crash-925bdddd", 0x1e60), ("libhdf5-crash-91d1da18", 0x5d0)] {
        let (_dir, f) = patched(name, heap_addr_at, 680);
        let e = Uvh5File::open(&f).unwrap_err();
        assert_eq!(e.code(), "UVH5_CORRUPT", "{e}");
        assert_eq!(
            e.to_string(),
            format!("{}: corrupt file: libhdf5 crashed with signal 11 (SIGSEGV) opening it (in a separate process)", f.display())
        );
    }
    // libhdf5 asked for ~1 TB while looking for the Header group: the root group's local heap
    // claims a data segment of 983547510872 bytes. The allocation failed (in the child, under
    // its address-space limit) and libhdf5 reported the group as absent; the heap is refused
    // now before libhdf5 reads it.
    let f = input("libhdf5-alloc-092bc172");
    let e = Uvh5File::open(&f).unwrap_err();
    assert_eq!(e.code(), "UVH5_CORRUPT", "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "{}: corrupt file: the root group: corrupt local heap at address 680 (its 983547510872-byte data segment \
             at address 182272 runs past the end of the file (31698 bytes))",
            f.display()
        )
    );
}

#[test]
fn a_corrupt_local_heap_free_list_is_the_same_error_on_every_open() {
    // The Header group's local heap has a free block at offset 584 that claims 268435712 bytes
    // of a 704-byte data segment (the fuzzer copied the superblock over it). libhdf5 (1.10.8,
    // and h5py's 2.0) fails the first lookup in that group ("bad heap free list") but keeps
    // the segment, and every later lookup in the same open file succeeds: contimg took
    // Header/version for absent on one open and, on a second open of the file while the first
    // was open (they share libhdf5's cache), read it — its type, mutated from 3 to 3331 bytes,
    // makes that "1.2" and the file's next 3328 bytes — and refused the version. The heap is
    // checked now before libhdf5 reads it: every open fails alike.
    let f = input("libhdf5-overread-heapfree");
    let expected = format!(
        "{}: corrupt file: Header: corrupt local heap at address 1384 (bad free list: the free block at offset 584 \
         of 268435712 bytes runs past the 704-byte data segment)",
        f.display()
    );
    for isolate in [true, false, true] {
        let e = Uvh5File::open_with(&f, OpenOptions { isolate, ..Default::default() }).unwrap_err();
        assert_eq!(e.code(), "UVH5_CORRUPT", "{e}");
        assert_eq!(e.to_string(), expected);
    }
    // The same file with that free block repaired (a single block of 120 bytes at 584, ending
    // the list) opens, and its version, read 3331 bytes wide, is refused.
    let (dir, p) = patched("libhdf5-overread-heapfree", 0x2ec8 + 584, 1);
    let mut bytes = std::fs::read(&p).unwrap();
    bytes[0x2ec8 + 592..0x2ec8 + 600].copy_from_slice(&120u64.to_le_bytes());
    std::fs::write(&p, bytes).unwrap();
    let e = Uvh5File::open(&p).unwrap_err();
    assert_eq!(e.code(), "UVH5_UNSUPPORTED_VERSION", "{e}");
    assert!(e.to_string().contains("'1.2OVRO_MMADSA"), "{e}");
    drop(dir);
}

#[test]
fn a_heap_over_read_in_libhdf5_is_not_caught_outside_sanitizers() {
    // Data/nsamples has a corrupt chunk index (entries at address 0), so it is read through
    // libhdf5, which copies from past the end of a heap buffer (H5D__select_read ->
    // H5VM_memcpyvv; AddressSanitizer stops it, so under the fuzzer the checking child dies and
    // this is UVH5_CORRUPT). In a normal build nothing crashes: the read succeeds with whatever
    // bytes lay there — h5py's newer libhdf5 reads garbage too. Isolation cannot see that; this
    // test records it.
    let f = input("libhdf5-overread-18f84afa");
    let file = Uvh5File::open(&f).unwrap();
    assert!(!file.layout().direct_read);
    assert_eq!(file.read_all().unwrap().nsamples.len(), 96);
}

#[test]
fn isolation_can_be_turned_off() {
    // Without the child, the same clean errors come from this process (a crash input would
    // kill it, so only a clean one is tried).
    let f = input("libhdf5-leak");
    let e = Uvh5File::open_with(&f, OpenOptions { isolate: false, ..Default::default() }).unwrap_err();
    assert_eq!(e.code(), "UVH5_HDF5");
    assert!(e.to_string().contains("chunk dimension must be positive"), "{e}");
}

#[test]
fn a_non_ieee_float_is_read_only_through_libhdf5() {
    // Data/visdata's 'r' field is a 4-byte float with an exponent bias of 16776575 (IEEE:
    // 127). libhdf5 converts it (to ±0 here); the direct decoder took it for IEEE float32 and
    // read ordinary numbers. Such types now go through libhdf5 only, so both paths agree.
    let f = input("direct-vs-libhdf5-3702edbd");
    let file = Uvh5File::open(&f).unwrap();
    assert!(!file.layout().direct_read);
    let (a, b) = (read_all(&f, true).unwrap(), read_all(&f, false).unwrap());
    assert!(a.vis.iter().zip(&b.vis).all(|(x, y)| x.re.to_bits() == y.re.to_bits() && x.im.to_bits() == y.im.to_bits()));
    assert!(a.vis.iter().all(|v| v.re == 0.0), "libhdf5 reads the odd 'r' field as ±0");
}

#[test]
fn a_file_on_which_libhdf5_hangs_is_an_error_after_the_timeout() {
    // Reading a variable-length header string, libhdf5 spins in H5C_protect under H5HG_read
    // for minutes (found by the uvh5_file smoke run: libFuzzer's timeout). The child is
    // killed after CONTIMG_UVH5_VET_TIMEOUT_S; set here for a copy of this test binary that
    // runs only the ignored test below, so this process's environment is left alone.
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "open_the_hang_input_with_a_1_s_timeout", "--ignored", "--test-threads=1"])
        .env("CONTIMG_UVH5_VET_TIMEOUT_S", "1")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && log.contains("1 passed"), "{log}");
}

#[test]
#[ignore = "run by a_file_on_which_libhdf5_hangs_is_an_error_after_the_timeout, with a 1 s timeout"]
fn open_the_hang_input_with_a_1_s_timeout() {
    let f = input("libhdf5-hang-00d932df");
    let t = Instant::now();
    let e = Uvh5File::open(&f).unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert_eq!(e.code(), "UVH5_CORRUPT", "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "{}: corrupt file: libhdf5 did not finish opening it in 1 s (in a separate process, now killed; \
             CONTIMG_UVH5_VET_TIMEOUT_S sets the limit)",
            f.display()
        )
    );
}

#[test]
fn a_fixed_length_string_of_0_bytes_is_an_unsupported_type() {
    // Found by the 2026-12-07 afternoon campaign after ~16 minutes: a header string dataset
    // whose fixed-length string type is 0 bytes wide. Splitting its bytes into 0-byte strings
    // panicked (in the checking child, re-raised here as our bug).
    let f = input("fixed-string-of-0-bytes");
    for isolate in [true, false] {
        let e = Uvh5File::open_with(&f, OpenOptions { isolate, ..Default::default() }).unwrap_err();
        assert_eq!(e.code(), "UVH5_UNSUPPORTED_DTYPE", "{e}");
        assert!(e.to_string().contains("expected a string"), "{e}");
    }
}
