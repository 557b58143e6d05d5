//! Writing subband files exactly as the DSA-110 correlator does.
//!
//! The correlator (dsa110-meridian-fs, `dsamfs/io.py`) writes with h5py: no `version` and no
//! `lst_array`; `phase_type` "drift"; int64 antenna arrays; `antenna_names` as 4-byte
//! strings "1".."117"; float32 `uvw_array`; `freq_array` with the legacy (1, Nfreqs) shape and
//! descending frequencies; a scalar `channel_width`; `visdata` complex64 with the legacy spw
//! axis (Nblts, 1, Nfreqs, Npols); every per-blt array resizable along its first axis and so
//! chunked with h5py's automatic chunk shapes, uncompressed. `extra_keywords` carries
//! `phase_center_dec` (rad), `ha_phase_center` 0.0, `phase_center_epoch` "HADEC" (a
//! variable-length string, as h5py stores a Python str), `fs_table` and `applied_delays_ns`;
//! since 2022 the header also carries `phase_center_app_dec` (the pointing, radians).

use std::ops::Range;
use std::path::{Path, PathBuf};

use hdf5::types::VarLenUnicode;
use hdf5::{Dataset, Group};
use num_complex::Complex32;

use crate::error::{Result, Uvh5Error};

/// Everything in a DSA-110 subband file except the data arrays.
#[derive(Debug, Clone)]
pub struct Dsa110Header {
    pub latitude_deg: f64,
    pub longitude_deg: f64,
    pub altitude_m: f64,
    /// All stations: names "1".."117", numbers 0..116.
    pub antenna_names: Vec<String>,
    pub antenna_numbers: Vec<i64>,
    /// ECEF offsets from the telescope location (m), one per station.
    pub antenna_positions_m: Vec<[f64; 3]>,
    pub antenna_diameter_m: f64,
    /// Baselines in correlator order (antenna numbers), repeated for every integration.
    pub bl_ant_1: Vec<i64>,
    pub bl_ant_2: Vec<i64>,
    /// The uvw of each baseline toward (HA = 0, Dec = pointing), constant in time.
    pub bl_uvw_m: Vec<[f32; 3]>,
    /// Centre of each integration (JD, UTC).
    pub times_jd: Vec<f64>,
    /// What the file records as `integration_time` for every blt (s).
    pub integration_time_s: f64,
    /// Channel centres (Hz), as they come off the correlator: descending.
    pub freq_hz: Vec<f64>,
    /// Positive channel width (Hz).
    pub channel_width_hz: f64,
    /// AIPS codes, [-5, -6] for XX, YY.
    pub polarization: Vec<i64>,
    pub phase_center_dec_rad: f64,
    pub fs_table: Option<String>,
    pub applied_delays_ns: String,
    pub object_name: String,
    pub history: String,
}

impl Dsa110Header {
    pub fn n_bls(&self) -> usize {
        self.bl_ant_1.len()
    }
    pub fn n_times(&self) -> usize {
        self.times_jd.len()
    }
    pub fn n_blts(&self) -> usize {
        self.n_bls() * self.n_times()
    }
    pub fn n_freqs(&self) -> usize {
        self.freq_hz.len()
    }
    pub fn n_pols(&self) -> usize {
        self.polarization.len()
    }
}

/// An open file being written; data arrive an integration range at a time.
pub struct Dsa110Writer {
    path: PathBuf,
    file: Option<hdf5::File>,
    n_bls: usize,
    n_freqs: usize,
    n_pols: usize,
    n_times: usize,
    visdata: Dataset,
    flags: Dataset,
    nsamples: Dataset,
}

/// h5py's automatic chunk shape for a dataset created with shape (0, rest…) and an
/// unlimited first axis, which is what the correlator's `create_dataset(..., maxshape=(None, …),
/// chunks=True)` gets (h5py `filters.guess_chunk`).
pub fn h5py_guess_chunk(rest: &[usize], typesize: usize) -> Vec<usize> {
    const CHUNK_BASE: f64 = 16.0 * 1024.0;
    const CHUNK_MIN: f64 = 8.0 * 1024.0;
    const CHUNK_MAX: f64 = 1024.0 * 1024.0;
    // An unlimited axis of current size 0 is guessed as 1024.
    let mut shape: Vec<f64> = std::iter::once(1024.0).chain(rest.iter().map(|&d| d as f64)).collect();
    let ndims = shape.len();
    let dset_size = shape.iter().product::<f64>() * typesize as f64;
    let mut target = CHUNK_BASE * 2f64.powf((dset_size / (1024.0 * 1024.0)).log10());
    target = target.clamp(CHUNK_MIN, CHUNK_MAX);
    let mut idx = 0;
    loop {
        let chunk_bytes = shape.iter().product::<f64>() * typesize as f64;
        if (chunk_bytes < target || ((chunk_bytes - target) / target) < 0.5) && chunk_bytes < CHUNK_MAX {
            break;
        }
        if shape.iter().product::<f64>() == 1.0 {
            break;
        }
        shape[idx % ndims] = (shape[idx % ndims] / 2.0).ceil();
        idx += 1;
    }
    shape.into_iter().map(|d| d as usize).collect()
}

impl Dsa110Writer {
    /// Creates the file and writes the whole header; data datasets are allocated at full size.
    pub fn create(path: impl AsRef<Path>, h: &Dsa110Header) -> Result<Self> {
        let path = path.as_ref().to_owned();
        let e = |op: &str| {
            let path = path.clone();
            let op = op.to_owned();
            move |err: hdf5::Error| Uvh5Error::hdf5(&path, op.clone(), err)
        };
        let check = |cond: bool, detail: String| -> Result<()> {
            if cond { Ok(()) } else { Err(Uvh5Error::InvalidArgument { path: path.clone(), detail }) }
        };
        let n_ants = h.antenna_names.len();
        check(h.antenna_numbers.len() == n_ants, "antenna_numbers and antenna_names differ in length".into())?;
        check(h.antenna_positions_m.len() == n_ants, "antenna_positions and antenna_names differ in length".into())?;
        check(h.bl_ant_2.len() == h.n_bls() && h.bl_uvw_m.len() == h.n_bls(), "baseline arrays differ in length".into())?;

        // No libhdf5 flock(), as in reading (read.rs says why): a forked child would keep this
        // exclusive lock alive past our close.
        let file = hdf5::File::with_options().with_fapl(|p| p.file_locking(false)).create(&path).map_err(e("creating the file"))?;
        let header = file.create_group("Header").map_err(e("creating Header"))?;
        let data = file.create_group("Data").map_err(e("creating Data"))?;
        let (n_bls, n_times, n_blts) = (h.n_bls(), h.n_times(), h.n_blts());
        let (n_freqs, n_pols) = (h.n_freqs(), h.n_pols());

        scalar(&header, "latitude", h.latitude_deg).map_err(e("writing latitude"))?;
        scalar(&header, "longitude", h.longitude_deg).map_err(e("writing longitude"))?;
        scalar(&header, "altitude", h.altitude_m).map_err(e("writing altitude"))?;
        fixed_string(&header, "telescope_name", "OVRO_MMA").map_err(e("writing telescope_name"))?;
        fixed_string(&header, "instrument", "DSA").map_err(e("writing instrument"))?;
        fixed_string(&header, "object_name", &h.object_name).map_err(e("writing object_name"))?;
        fixed_string(&header, "history", &h.history).map_err(e("writing history"))?;
        fixed_string(&header, "phase_type", "drift").map_err(e("writing phase_type"))?;
        scalar(&header, "phase_center_app_dec", h.phase_center_dec_rad).map_err(e("writing phase_center_app_dec"))?;
        let mut ants_data: Vec<i64> = h.bl_ant_1.iter().chain(&h.bl_ant_2).copied().collect();
        ants_data.sort_unstable();
        ants_data.dedup();
        scalar(&header, "Nants_data", ants_data.len() as i64).map_err(e("writing Nants_data"))?;
        scalar(&header, "Nants_telescope", n_ants as i64).map_err(e("writing Nants_telescope"))?;
        array(&header, "antenna_diameters", &vec![h.antenna_diameter_m; n_ants], &[n_ants])
            .map_err(e("writing antenna_diameters"))?;

        let ant_1: Vec<i64> = (0..n_times).flat_map(|_| h.bl_ant_1.iter().copied()).collect();
        let ant_2: Vec<i64> = (0..n_times).flat_map(|_| h.bl_ant_2.iter().copied()).collect();
        resizable(&header, "ant_1_array", &ant_1, &[n_blts]).map_err(e("writing ant_1_array"))?;
        resizable(&header, "ant_2_array", &ant_2, &[n_blts]).map_err(e("writing ant_2_array"))?;
        fixed_string_array(&header, "antenna_names", &h.antenna_names, 4).map_err(e("writing antenna_names"))?;
        array(&header, "antenna_numbers", &h.antenna_numbers, &[n_ants]).map_err(e("writing antenna_numbers"))?;
        scalar(&header, "Nbls", n_bls as i64).map_err(e("writing Nbls"))?;
        scalar(&header, "Nblts", n_blts as i64).map_err(e("writing Nblts"))?;
        scalar(&header, "Nfreqs", n_freqs as i64).map_err(e("writing Nfreqs"))?;
        scalar(&header, "Npols", n_pols as i64).map_err(e("writing Npols"))?;
        scalar(&header, "Ntimes", n_times as i64).map_err(e("writing Ntimes"))?;
        scalar(&header, "Nspws", 1i64).map_err(e("writing Nspws"))?;
        let uvw: Vec<f32> = (0..n_times).flat_map(|_| h.bl_uvw_m.iter().flat_map(|u| u.iter().copied())).collect();
        resizable(&header, "uvw_array", &uvw, &[n_blts, 3]).map_err(e("writing uvw_array"))?;
        let times: Vec<f64> = h.times_jd.iter().flat_map(|&t| std::iter::repeat_n(t, n_bls)).collect();
        resizable(&header, "time_array", &times, &[n_blts]).map_err(e("writing time_array"))?;
        resizable(&header, "integration_time", &vec![h.integration_time_s; n_blts], &[n_blts])
            .map_err(e("writing integration_time"))?;
        array(&header, "freq_array", &h.freq_hz, &[1, n_freqs]).map_err(e("writing freq_array"))?;
        scalar(&header, "channel_width", h.channel_width_hz).map_err(e("writing channel_width"))?;
        array(&header, "spw_array", &[1i64], &[1]).map_err(e("writing spw_array"))?;
        array(&header, "polarization_array", &h.polarization, &[n_pols]).map_err(e("writing polarization_array"))?;
        let pos: Vec<f64> = h.antenna_positions_m.iter().flat_map(|p| p.iter().copied()).collect();
        array(&header, "antenna_positions", &pos, &[n_ants, 3]).map_err(e("writing antenna_positions"))?;

        let extra = header.create_group("extra_keywords").map_err(e("creating extra_keywords"))?;
        scalar(&extra, "phase_center_dec", h.phase_center_dec_rad).map_err(e("writing phase_center_dec"))?;
        scalar(&extra, "ha_phase_center", 0.0f64).map_err(e("writing ha_phase_center"))?;
        let epoch: VarLenUnicode = "HADEC".parse().expect("ASCII");
        extra
            .new_dataset::<VarLenUnicode>()
            .create("phase_center_epoch")
            .and_then(|d| d.write_scalar(&epoch))
            .map_err(e("writing phase_center_epoch"))?;
        if let Some(fs) = &h.fs_table {
            fixed_string(&extra, "fs_table", fs).map_err(e("writing fs_table"))?;
        }
        fixed_string(&extra, "applied_delays_ns", &h.applied_delays_ns).map_err(e("writing applied_delays_ns"))?;

        let data_shape = [n_blts, 1, n_freqs, n_pols];
        let rest = &data_shape[1..];
        let visdata = data
            .new_dataset::<Complex32>()
            .chunk(h5py_guess_chunk(rest, 8))
            .shape(extents(&data_shape))
            .create("visdata")
            .map_err(e("creating visdata"))?;
        let flags = data
            .new_dataset::<bool>()
            .chunk(h5py_guess_chunk(rest, 1))
            .shape(extents(&data_shape))
            .create("flags")
            .map_err(e("creating flags"))?;
        let nsamples = data
            .new_dataset::<f32>()
            .chunk(h5py_guess_chunk(rest, 4))
            .shape(extents(&data_shape))
            .create("nsamples")
            .map_err(e("creating nsamples"))?;

        Ok(Dsa110Writer { path, file: Some(file), n_bls, n_freqs, n_pols, n_times, visdata, flags, nsamples })
    }

    /// Writes integrations `times` (all baselines, channels and polarisations of each);
    /// arrays are C order [time][baseline][chan][pol].
    pub fn write_integrations(
        &mut self,
        times: Range<usize>,
        vis: &[Complex32],
        flags: &[bool],
        nsamples: &[f32],
    ) -> Result<()> {
        let per_time = self.n_bls * self.n_freqs * self.n_pols;
        let n = times.len() * per_time;
        if times.end > self.n_times || vis.len() != n || flags.len() != n || nsamples.len() != n {
            return Err(Uvh5Error::InvalidArgument {
                path: self.path.clone(),
                detail: format!(
                    "write_integrations({times:?}) needs {n} elements per array (file has {} integrations); got {}, {}, {}",
                    self.n_times,
                    vis.len(),
                    flags.len(),
                    nsamples.len()
                ),
            });
        }
        let blts = times.start * self.n_bls..times.end * self.n_bls;
        let dims = [self.n_freqs, self.n_pols];
        let e = |op: &'static str| {
            let path = self.path.clone();
            move |err| Uvh5Error::hdf5(&path, op, err)
        };
        write_blts(&self.visdata, blts.clone(), dims, vis.as_ptr().cast()).map_err(e("writing visdata"))?;
        write_blts(&self.flags, blts.clone(), dims, flags.as_ptr().cast()).map_err(e("writing flags"))?;
        write_blts(&self.nsamples, blts, dims, nsamples.as_ptr().cast()).map_err(e("writing nsamples"))?;
        Ok(())
    }

    /// Flushes and closes the file.
    pub fn finish(mut self) -> Result<()> {
        if let Some(f) = self.file.take() {
            f.flush().map_err(|e| Uvh5Error::hdf5(&self.path, "flushing", e))?;
            f.close().map_err(|e| Uvh5Error::hdf5(&self.path, "closing", e))?;
        }
        Ok(())
    }
}

/// Writes rows `blts` of a (Nblts, 1, Nfreqs, Npols) dataset from memory laid out in the
/// dataset's own element type (Complex32, bool and f32 match h5py's file types exactly).
fn write_blts(ds: &Dataset, blts: Range<usize>, dims: [usize; 2], buf: *const std::ffi::c_void) -> hdf5::Result<()> {
    use hdf5_sys::h5d::H5Dwrite;
    use hdf5_sys::h5p::H5P_DEFAULT;
    use hdf5_sys::h5s::{H5S_seloper_t, H5Sclose, H5Screate_simple, H5Sselect_hyperslab};
    let start = [blts.start as u64, 0, 0, 0];
    let count = [blts.len() as u64, 1, dims[0] as u64, dims[1] as u64];
    let space = ds.space()?;
    let dtype = ds.dtype()?;
    hdf5::sync::sync(|| unsafe {
        let file_space = space.id();
        if H5Sselect_hyperslab(
            file_space,
            H5S_seloper_t::H5S_SELECT_SET,
            start.as_ptr(),
            std::ptr::null(),
            count.as_ptr(),
            std::ptr::null(),
        ) < 0
        {
            return Err("selecting a hyperslab failed".into());
        }
        let mem_space = H5Screate_simple(4, count.as_ptr(), std::ptr::null());
        let status = H5Dwrite(ds.id(), dtype.id(), mem_space, file_space, H5P_DEFAULT, buf);
        H5Sclose(mem_space);
        if status < 0 { Err("H5Dwrite failed".into()) } else { Ok(()) }
    })
}

fn extents(shape: &[usize]) -> hdf5::Extents {
    let mut dims: Vec<hdf5::Extent> = shape.iter().map(|&d| hdf5::Extent::fixed(d)).collect();
    dims[0] = hdf5::Extent::resizable(shape[0]);
    hdf5::Extents::from(dims)
}

fn scalar<T: hdf5::H5Type>(g: &Group, name: &str, v: T) -> hdf5::Result<()> {
    g.new_dataset::<T>().create(name)?.write_scalar(&v)
}

fn array<T: hdf5::H5Type>(g: &Group, name: &str, v: &[T], shape: &[usize]) -> hdf5::Result<()> {
    let ds = g.new_dataset::<T>().shape(shape.to_vec()).create(name)?;
    ds.write_raw(v)
}

/// A dataset created the way h5py creates `maxshape=(None, …)`: chunked, resizable.
fn resizable<T: hdf5::H5Type>(g: &Group, name: &str, v: &[T], shape: &[usize]) -> hdf5::Result<()> {
    let chunk = h5py_guess_chunk(&shape[1..], std::mem::size_of::<T>());
    let ds = g.new_dataset::<T>().chunk(chunk).shape(extents(shape)).create(name)?;
    ds.write_raw(v)
}

/// A fixed-length, null-padded ASCII string, as h5py writes `np.bytes_`.
fn fixed_string(g: &Group, name: &str, s: &str) -> hdf5::Result<()> {
    write_fixed(g, name, &[s.as_bytes().to_vec()], s.len().max(1), None)
}

fn fixed_string_array(g: &Group, name: &str, v: &[String], width: usize) -> hdf5::Result<()> {
    let items: Vec<Vec<u8>> = v.iter().map(|s| s.as_bytes().to_vec()).collect();
    write_fixed(g, name, &items, width, Some(v.len()))
}

fn write_fixed(g: &Group, name: &str, items: &[Vec<u8>], width: usize, len: Option<usize>) -> hdf5::Result<()> {
    use hdf5_sys::h5d::{H5Dclose, H5Dcreate2, H5Dwrite};
    use hdf5_sys::h5p::H5P_DEFAULT;
    use hdf5_sys::h5s::{H5Sclose, H5Screate, H5Screate_simple, H5S_class_t, H5S_ALL};
    use hdf5_sys::h5t::{H5T_cset_t, H5T_str_t, H5Tclose, H5Tcopy, H5Tset_cset, H5Tset_size, H5Tset_strpad, H5T_C_S1};
    let mut buf = vec![0u8; width * items.len()];
    for (i, it) in items.iter().enumerate() {
        let n = it.len().min(width);
        buf[i * width..i * width + n].copy_from_slice(&it[..n]);
    }
    let cname = std::ffi::CString::new(name).map_err(|_| hdf5::Error::from("dataset name contains NUL"))?;
    hdf5::sync::sync(|| unsafe {
        let t = H5Tcopy(*H5T_C_S1);
        H5Tset_size(t, width);
        H5Tset_strpad(t, H5T_str_t::H5T_STR_NULLPAD);
        H5Tset_cset(t, H5T_cset_t::H5T_CSET_ASCII);
        let space = match len {
            None => H5Screate(H5S_class_t::H5S_SCALAR),
            Some(n) => {
                let dims = [n as u64];
                H5Screate_simple(1, dims.as_ptr(), std::ptr::null())
            }
        };
        let ds = H5Dcreate2(g.id(), cname.as_ptr(), t, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        let status = if ds < 0 { -1 } else { H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.as_ptr().cast()) };
        if ds >= 0 {
            H5Dclose(ds);
        }
        H5Sclose(space);
        H5Tclose(t);
        if status < 0 {
            Err(hdf5::Error::from(format!("writing string dataset {name}")))
        } else {
            Ok(())
        }
    })
}
