//! Older UVH5 files, read as pyuvdata 3.2 reads them.
//!
//! The base file is real: `test/data/pyuvdata/zen.2458098.45361.HH_downselected.uvh5`, a
//! version-0.1 HERA file from pyuvdata's own test data (see the README beside it).
//! `test/oracle/make_old_uvh5.py` derives variants with the quirks older writers left, and
//! `test/oracle/uvh5_arrays.py` reads each with pyuvdata; every array must agree exactly.
//!
//! Runs the oracle with `CONTIMG_ORACLE_PYTHON` (default `<repo>/.venv/bin/python`). A missing
//! interpreter fails the test unless `CONTIMG_SKIP_ORACLE=1`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use uvh5::{Phasing, Uvh5File, Uvh5Version};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn v01_file() -> PathBuf {
    repo_root().join("test/data/pyuvdata/zen.2458098.45361.HH_downselected.uvh5")
}

fn python() -> Option<PathBuf> {
    if std::env::var("CONTIMG_SKIP_ORACLE").is_ok_and(|v| v == "1") {
        return None;
    }
    let p = std::env::var_os("CONTIMG_ORACLE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/python"));
    assert!(p.exists(), "oracle interpreter {p:?} not found: set CONTIMG_ORACLE_PYTHON or CONTIMG_SKIP_ORACLE=1");
    Some(p)
}

fn oracle(python: &Path, script: &str, args: &[&Path]) -> Value {
    let out = Command::new(python)
        .arg(repo_root().join("test/oracle").join(script))
        .args(args)
        .output()
        .expect("run the oracle");
    assert!(out.status.success(), "{script} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("oracle JSON")
}

/// The oracle's bit patterns (exact, unlike decimal floats through a JSON parser).
fn bits(v: &Value) -> Vec<u64> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect()
}

/// Asserts equal without printing thousands of numbers: the count and the first mismatch.
fn same(name: &str, what: &str, ours: &[u64], theirs: &[u64]) {
    assert_eq!(ours.len(), theirs.len(), "{name}: {what} lengths differ");
    let bad: Vec<usize> = (0..ours.len()).filter(|&i| ours[i] != theirs[i]).collect();
    assert!(
        bad.is_empty(),
        "{name}: {} of {} {what} values differ from pyuvdata's; first at {}: {:#x} vs {:#x}",
        bad.len(),
        ours.len(),
        bad[0],
        ours[bad[0]],
        theirs[bad[0]]
    );
}

/// Our read of `path` must equal pyuvdata's `reference` exactly.
fn assert_same_as_pyuvdata(path: &Path, reference: &Value) {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let f = Uvh5File::open(path).unwrap_or_else(|e| panic!("{name}: {e}"));
    let h = f.header();
    assert_eq!(h.n_blts as u64, reference["nblts"].as_u64().unwrap(), "{name} Nblts");
    assert_eq!(h.n_bls as u64, reference["nbls"].as_u64().unwrap(), "{name} Nbls");
    assert_eq!(h.n_times as u64, reference["ntimes"].as_u64().unwrap(), "{name} Ntimes");
    assert_eq!(h.n_freqs as u64, reference["nfreqs"].as_u64().unwrap(), "{name} Nfreqs");
    assert_eq!(h.n_pols as u64, reference["npols"].as_u64().unwrap(), "{name} Npols");
    assert_eq!(h.vis_units, reference["vis_units"].as_str().unwrap(), "{name} vis_units");
    assert_eq!(!h.phasing.is_unprojected(), reference["phased"].as_bool().unwrap(), "{name} phasing");
    let f64_bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<u64>>();
    let uvw: Vec<f64> = h.uvw_m.iter().flatten().copied().collect();
    same(&name, "uvw", &f64_bits(&uvw), &bits(&reference["uvw"]));
    same(&name, "time", &f64_bits(&h.time_jd), &bits(&reference["time_jd"]));
    same(&name, "frequency", &f64_bits(&h.freq_hz), &bits(&reference["freq_hz"]));
    same(&name, "channel width", &f64_bits(&h.channel_width_hz), &bits(&reference["channel_width_hz"]));

    let block = f.read_all().unwrap();
    let data: Vec<u64> = block.vis.iter().flat_map(|c| [c.re.to_bits() as u64, c.im.to_bits() as u64]).collect();
    same(&name, "visibility", &data, &bits(&reference["data"]));
    let flags: Vec<u64> = block.flags.iter().map(|&b| b as u64).collect();
    same(&name, "flag", &flags, &bits(&reference["flags"]));
    let ns: Vec<u64> = block.nsamples.iter().map(|&v| v.to_bits() as u64).collect();
    same(&name, "nsamples", &ns, &bits(&reference["nsamples"]));
}

#[test]
fn a_real_version_0_1_file_reads_as_pyuvdata_reads_it() {
    let path = v01_file();
    let f = Uvh5File::open(&path).expect("UVH5 0.1 is read, not refused");
    assert_eq!(f.header().version, Uvh5Version::V0_1);
    assert_eq!(f.header().telescope.name, "HERA");
    assert!(matches!(f.header().phasing, Phasing::Drift));
    let Some(python) = python() else { return };
    let reference = oracle(&python, "uvh5_arrays.py", &[&path]);
    assert_same_as_pyuvdata(&path, &reference[0]);
}

#[test]
fn old_writers_quirks_read_as_pyuvdata_reads_them() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let variants: BTreeMap<String, String> =
        serde_json::from_value(oracle(&python, "make_old_uvh5.py", &[&v01_file(), dir.path()])).unwrap();
    let paths: Vec<PathBuf> = variants.values().map(PathBuf::from).collect();
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let reference = oracle(&python, "uvh5_arrays.py", &refs);
    for r in reference.as_array().unwrap() {
        let path = PathBuf::from(r["file"].as_str().unwrap());
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if name == "dsa_legacy_spw" {
            // Not HERA: pyuvdata keeps the wrong Nbls and refuses the file; so do we.
            assert!(r["error"].as_str().unwrap().contains("Nbls"), "{r}");
            let e = Uvh5File::open(&path).unwrap_err();
            assert_eq!(e.code(), "UVH5_INCONSISTENT", "{e}");
            assert!(e.to_string().contains("Nbls is 360 but ant_1_array/ant_2_array hold 36 unique baselines"), "{e}");
            continue;
        }
        assert!(r.get("error").is_none(), "pyuvdata refuses {name}: {r}");
        assert_same_as_pyuvdata(&path, r);
        let f = Uvh5File::open(&path).unwrap();
        match name.as_str() {
            "hera_nbls" => {
                assert_eq!(f.header().n_bls, 36);
                // This variant flags some data, so the flag comparison above proves something.
                let b = f.read_all().unwrap();
                assert!(b.flags.contains(&true) && b.flags.contains(&false));
                assert!(b.nsamples.contains(&0.5));
            }
            "uncalib_phased" => {
                assert_eq!(f.header().version, Uvh5Version::Unversioned);
                let Phasing::Phased { ra_rad, dec_rad, frame, epoch, name } = &f.header().phasing else {
                    panic!("not phased: {:?}", f.header().phasing)
                };
                assert_eq!((*ra_rad, *dec_rad, frame.as_str(), *epoch, name.as_str()), (1.25, -0.5, "fk5", Some(2000.0), "zenith"));
            }
            "vlen_strings" => {
                assert_eq!(f.header().telescope.antenna_names[0], "HH136");
                assert_eq!(f.header().telescope.x_orientation.as_deref(), Some("east"));
            }
            other => panic!("unexpected variant {other}"),
        }
    }
    assert_eq!(variants.len(), 4);
}
