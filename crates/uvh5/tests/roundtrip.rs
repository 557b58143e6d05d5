//! Writes a small file the way the DSA-110 correlator does and reads it back through both
//! the direct (pread) path and the libhdf5 path.

use num_complex::Complex32;
use uvh5::{Dsa110Header, Dsa110Writer, Phasing, Uvh5File, VisBlock};

pub fn small_header(n_ants: usize, n_times: usize, n_freqs: usize) -> Dsa110Header {
    let mut bl_ant_1 = Vec::new();
    let mut bl_ant_2 = Vec::new();
    let mut bl_uvw_m = Vec::new();
    for a in 0..n_ants as i64 {
        for b in a..n_ants as i64 {
            bl_ant_1.push(a);
            bl_ant_2.push(b);
            bl_uvw_m.push([(b - a) as f32 * 10.5, (b - a) as f32 * -3.25, 0.125 * a as f32]);
        }
    }
    Dsa110Header {
        latitude_deg: 37.233387,
        longitude_deg: -118.283405,
        altitude_m: 1188.05,
        antenna_names: (1..=8).map(|i| i.to_string()).collect(),
        antenna_numbers: (0..8).collect(),
        antenna_positions_m: (0..8).map(|i| [i as f64, 2.0 * i as f64, -(i as f64)]).collect(),
        antenna_diameter_m: 4.65,
        bl_ant_1,
        bl_ant_2,
        bl_uvw_m,
        times_jd: (0..n_times).map(|t| 2460950.5 + t as f64 * 12.884902 / 86400.0).collect(),
        integration_time_s: 12.884902,
        freq_hz: (0..n_freqs).map(|c| 1.49875e9 - c as f64 * 244140.625).collect(),
        channel_width_hz: 244140.625,
        polarization: vec![-5, -6],
        phase_center_dec_rad: 0.5,
        fs_table: Some("fringestopping_table.npz".into()),
        applied_delays_ns: "1 2 3".into(),
        object_name: "search".into(),
        history: "test".into(),
    }
}

fn value(t: usize, bl: usize, f: usize, p: usize) -> Complex32 {
    Complex32::new((t * 1000 + bl) as f32 + 0.5, (f * 10 + p) as f32 - 0.25)
}

#[test]
fn dsa110_file_round_trips_through_both_read_paths() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("2025-10-02T00:00:00_sb00.hdf5");
    let (n_ants, n_times, n_freqs, n_pols) = (5, 3, 48, 2);
    let h = small_header(n_ants, n_times, n_freqs);
    let n_bls = h.n_bls();
    let mut w = Dsa110Writer::create(&path, &h).unwrap();
    for t in 0..n_times {
        let mut vis = Vec::new();
        let mut flags = Vec::new();
        let mut ns = Vec::new();
        for bl in 0..n_bls {
            for f in 0..n_freqs {
                for p in 0..n_pols {
                    vis.push(value(t, bl, f, p));
                    flags.push((bl + f + p + t) % 7 == 0);
                    ns.push(((bl + f) % 3) as f32);
                }
            }
        }
        w.write_integrations(t..t + 1, &vis, &flags, &ns).unwrap();
    }
    w.finish().unwrap();

    for direct in [true, false] {
        let f = Uvh5File::open_with(&path, uvh5::OpenOptions { direct_reads: direct, ..Default::default() }).unwrap();
        assert_eq!(f.layout().direct_read, direct);
        assert!(f.layout().legacy_spw_axis);
        let hd = f.header();
        assert_eq!(hd.n_blts, n_bls * n_times);
        assert_eq!(hd.n_bls, n_bls);
        assert_eq!(hd.n_times, n_times);
        assert_eq!(hd.n_ants_data, n_ants);
        assert_eq!(hd.telescope.n_antennas, 8);
        assert_eq!(hd.telescope.antenna_names[7], "8");
        assert_eq!(hd.freq_hz[0], 1.49875e9);
        assert_eq!(hd.channel_width_hz, vec![244140.625; n_freqs]);
        assert!(hd.uvw_is_f32);
        assert!(hd.lst_rad.is_none());
        assert_eq!(hd.phasing, Phasing::Drift);
        assert_eq!(hd.extra_keywords["phase_center_dec"].as_f64(), Some(0.5));
        assert_eq!(hd.extra_keywords["phase_center_epoch"].as_str(), Some("HADEC"));
        // A block crossing chunk boundaries in both blt and channel.
        let mut b = VisBlock::default();
        let blts = 7..(n_bls * n_times - 2);
        f.read_block(blts.clone(), 5..41, &mut b).unwrap();
        for (i, blt) in blts.clone().enumerate() {
            let (t, bl) = (blt / n_bls, blt % n_bls);
            for (j, ch) in (5..41).enumerate() {
                for p in 0..n_pols {
                    let k = (i * 36 + j) * n_pols + p;
                    assert_eq!(b.vis[k], value(t, bl, ch, p), "blt {blt} chan {ch} pol {p} direct={direct}");
                    assert_eq!(b.flags[k], (bl + ch + p + t) % 7 == 0);
                    assert_eq!(b.nsamples[k], ((bl + ch) % 3) as f32);
                }
            }
        }
    }
}

#[test]
fn out_of_range_block_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.hdf5");
    let h = small_header(3, 2, 48);
    let n = h.n_blts() * 48 * 2;
    let mut w = Dsa110Writer::create(&path, &h).unwrap();
    w.write_integrations(0..2, &vec![Complex32::default(); n], &vec![false; n], &vec![1.0; n]).unwrap();
    w.finish().unwrap();
    let f = Uvh5File::open(&path).unwrap();
    let mut b = VisBlock::default();
    let err = f.read_block(0..100, 0..48, &mut b).unwrap_err();
    assert_eq!(err.code(), "UVH5_OUT_OF_RANGE");
    assert!(err.to_string().contains("x.hdf5"));
}

/// contimg's own HDF5 reads and writes take no flock(): while a forked child (isolate/) of
/// another thread lives, it holds a copy of every descriptor, and a lock taken through one
/// outlived its close. A writer's lock made this test's own flock fail and, in the convert
/// tests, libhdf5's read lock fail with EAGAIN ("unable to lock file"). A file someone else
/// locks exclusively still opens.
#[test]
fn opens_a_file_another_descriptor_holds_an_exclusive_lock_on() {
    use std::os::fd::AsRawFd;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.hdf5");
    let h = small_header(3, 2, 48);
    let n = h.n_blts() * 48 * 2;
    let mut w = Dsa110Writer::create(&path, &h).unwrap();
    w.write_integrations(0..2, &vec![Complex32::default(); n], &vec![false; n], &vec![1.0; n]).unwrap();
    w.finish().unwrap();
    let holder = std::fs::OpenOptions::new().read(true).write(true).open(&path).unwrap();
    assert_eq!(unsafe { libc::flock(holder.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) }, 0);
    let f = Uvh5File::open(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(f.header().n_freqs, 48);
}
