//! The side outputs of a group: `<group>.gains.npy` and atomic writes.

use std::io::Write;
use std::path::Path;

use crate::{gains, rfi, truth, GroupPlan, Run, SimError};

/// Channel centres of the whole group, ascending (sb00 is the highest subband).
pub(crate) fn group_freqs_hz(run: &Run) -> Vec<f64> {
    let band = &run.cfg.band;
    let mut f: Vec<f64> = (0..band.n_subbands).flat_map(|sb| band.subband_freqs_hz(sb)).collect();
    f.sort_by(f64::total_cmp);
    f
}

pub(crate) fn write_gains_npy(run: &Run, plan: &GroupPlan, path: &Path) -> Result<(), SimError> {
    let freqs = group_freqs_hz(run);
    let cube = gains::gain_cube(&run.gains, &plan.times_jd, &freqs, run.band_coord);
    let shape = [run.gains.len(), plan.times_jd.len(), freqs.len(), 2];
    write_atomically(path, &gains::npy_complex64(&shape, &cube))
}

pub(crate) fn gains_npy_truth(run: &Run, plan: &GroupPlan, path: &Path) -> truth::GainsNpy {
    let freqs = group_freqs_hz(run);
    let stations = dsa110::stations();
    truth::GainsNpy {
        file: path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        dtype: "complex64",
        shape: [run.gains.len(), plan.times_jd.len(), freqs.len(), 2],
        axes: ["antenna", "time", "freq", "pol"],
        antennas: run
            .gains
            .iter()
            .enumerate()
            .map(|(index, g)| truth::NpyAntenna {
                index,
                antenna: g.antenna,
                ms_antenna_row: g.antenna,
                name: stations[g.antenna as usize].number.to_string(),
            })
            .collect(),
        times_jd: plan.times_jd.clone(),
        time_mjd_s: plan.times_jd.iter().map(|&jd| (jd - astro::MJD_OFFSET_JD) * astro::SECONDS_PER_DAY).collect(),
        freq_hz: freqs,
        pols: ["XX", "YY"],
    }
}

/// Temp name, fsync, rename, fsync of the directory: a crash leaves the old file or the new
/// one, never a torn one.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), SimError> {
    let mut tmp_name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let mut f = std::fs::File::create(&tmp).map_err(|e| SimError::io(&tmp, "create", e))?;
    f.write_all(bytes).map_err(|e| SimError::io(&tmp, "write", e))?;
    f.sync_all().map_err(|e| SimError::io(&tmp, "fsync", e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| SimError::io(path, "rename into place", e))?;
    if let Some(dir) = path.parent() {
        // Best effort: some file systems refuse to open a directory for syncing.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// `<group>.rfi.npy`: the exact mask of the plan, [integration][baseline][channel asc][pol].
pub(crate) fn write_rfi_npy(run: &Run, plan: &GroupPlan, rfi_plan: &rfi::RfiPlan, path: &Path) -> Result<truth::RfiTruth, SimError> {
    let freqs = group_freqs_hz(run);
    let (n_t, n_b, n_f) = (plan.times_jd.len(), run.bl.len(), freqs.len());
    let nb = rfi_plan.narrowband_by_channel(n_f);
    let mut mask = vec![false; n_t * n_b * n_f * 2];
    for t in 0..n_t {
        for (b, &(a1, a2)) in run.bl.iter().enumerate() {
            for c in 0..n_f {
                if rfi_plan.hits(t, a1 as i64, a2 as i64, c, &nb) {
                    let k = ((t * n_b + b) * n_f + c) * 2;
                    mask[k] = true;
                    mask[k + 1] = true;
                }
            }
        }
    }
    let n_true = mask.iter().filter(|&&m| m).count();
    let shape = [n_t, n_b, n_f, 2];
    write_atomically(path, &rfi::npy_bool(&shape, &mask))?;
    Ok(truth::RfiTruth {
        plan: rfi_plan.clone(),
        npy: truth::RfiNpy {
            file: path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            dtype: "bool",
            shape,
            axes: ["time", "baseline", "freq", "pol"],
            baselines: run.bl.iter().map(|&(a, b)| [a as i64, b as i64]).collect(),
            time_mjd_s: plan.times_jd.iter().map(|&jd| (jd - astro::MJD_OFFSET_JD) * astro::SECONDS_PER_DAY).collect(),
            freq_hz: freqs,
            pols: ["XX", "YY"],
            n_true,
            fraction: n_true as f64 / mask.len().max(1) as f64,
            note: "true where RFI was added (after the noise); autocorrelations carry none",
        },
    })
}
