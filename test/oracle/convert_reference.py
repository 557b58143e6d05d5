"""Compares a Measurement Set written by contimg with pyuvdata's conversion of the same input.

Usage: convert_reference.py MS --files F [F ...] [--input-phase stored-uvw|zero]
                            [--spw-per-subband] [--missing sbNN ...]

The reference is pyuvdata's own chain: read every file, (for --input-phase stored-uvw) take out
the phase the stored uvw_array w describes — `_apply_w_proj(new_w=0, old_w=uvw_w)`, which turns
fringe-stopped "drift" data into what pyuvdata calls unprojected — then `phase()` to the MS's
FIELD centre (ICRS), order channels by frequency and polarisations in CASA order, and apply
`write_ms`'s conventions (baselines that mix both orders conjugated to ant1 < ant2 by pyuvdata's
own `conjugate_bls`, which also swaps XY and YX; DATA = conj(data), UVW = −uvw, WEIGHT = median
of nsamples over frequency, INTERVAL = integration_time). Two contimg rules on top: the parallel
hands of autocorrelations are made real (cross hands stay complex), and NaN/Inf visibilities are
flagged with DATA 0. Prints JSON with the largest differences per column.
"""
import argparse
import json
import warnings

import numpy as np
from astropy.utils import iers

iers.conf.auto_download = False
import casacore.tables as pt  # noqa: E402
from pyuvdata import UVData  # noqa: E402

warnings.simplefilter("ignore")
ap = argparse.ArgumentParser()
ap.add_argument("ms")
ap.add_argument("--files", nargs="+", required=True)
ap.add_argument("--input-phase", default="stored-uvw", choices=["stored-uvw", "zero"])
ap.add_argument("--spw-per-subband", action="store_true")
ap.add_argument("--flip", action="store_true", help="input uvw are ant1-ant2 with conjugated data")
a = ap.parse_args()


def load(f):
    uv = UVData()
    uv.read(f, file_type="uvh5", run_check=False, fix_old_proj=False)
    uv.uvw_array = uv.uvw_array.astype(np.float64)
    uv.data_array = uv.data_array.astype(np.complex128)
    if a.flip:
        uv.data_array = np.conj(uv.data_array)
        uv.uvw_array = -uv.uvw_array
    return uv


uvs = [load(f) for f in a.files]
field = pt.table(a.ms + "/FIELD", ack=False)
ra, dec = field.getcol("PHASE_DIR")[0, 0]
field.close()

refs = []
for uv in uvs:
    if a.input_phase == "stored-uvw" and uv._check_for_cat_type("unprojected").any():
        uv._apply_w_proj(new_w_vals=0.0, old_w_vals=uv.uvw_array[:, 2])
    uv.phase(ra=ra, dec=dec, epoch="J2000", phase_frame="icrs", cat_name="field")
    if np.any(uv.ant_1_array < uv.ant_2_array) and np.any(uv.ant_1_array > uv.ant_2_array):
        uv.conjugate_bls("ant1<ant2")  # what write_ms does to such data
    refs.append(uv)

if a.spw_per_subband:
    parts = sorted(refs, key=lambda u: u.freq_array.min())
elif len(refs) > 1:
    parts = [refs[0].fast_concat(refs[1:], axis="freq", inplace=False, run_check=False)]
elif refs[0].Nspws > 1:
    # One file with several spectral windows: one MS window each, in spw_array order.
    parts = [refs[0].select(spws=[s], inplace=False, run_check=False) for s in refs[0].spw_array]
else:
    parts = refs

ms = pt.table(a.ms, ack=False)
spw_freqs = pt.table(a.ms + "/SPECTRAL_WINDOW", ack=False).getcol("CHAN_FREQ")
nrow_per_part = parts[0].Nblts
report = {"rows": int(ms.nrows()), "expected_rows": int(nrow_per_part * len(spw_freqs))}
casa_order = [1, 2, 3, 4, -1, -3, -4, -2, -5, -7, -8, -6]
worst = {"data_rel": 0.0, "data_abs": 0.0, "uvw_m": 0.0, "time_s": 0.0}
equal = {"flag": True, "weight_spectrum": True, "weight": True, "antennas": True, "time": True, "interval": True, "missing_flagged": True, "nonfinite_zeroed": True}
missing_channels = 0
nonfinite = 0
nonfinite_in_ms = 0
for i, freqs in enumerate(spw_freqs):
    uv = parts[i] if len(parts) == len(spw_freqs) else parts[0]
    pol_order = np.argsort([casa_order.index(p) for p in uv.polarization_array])
    # Each MS channel comes from the reference channel of the same frequency, if any.
    src = np.array([int(np.argmin(np.abs(uv.freq_array - f))) for f in freqs])
    present = np.abs(uv.freq_array[src] - freqs) < 1.0
    missing_channels += int((~present).sum())
    data = uv.data_array[:, src][:, :, pol_order]
    nsamp = uv.nsample_array[:, src][:, :, pol_order]
    bad = ~np.isfinite(data)
    nonfinite += int((bad & present[None, :, None]).sum())
    flags = uv.flag_array[:, src][:, :, pol_order] | (nsamp == 0) | bad
    data[bad] = 0
    data[:, ~present] = 0
    nsamp[:, ~present] = 0
    flags[:, ~present] = True
    expect_data = np.conj(data)
    autos = uv.ant_1_array == uv.ant_2_array
    parallel = np.isin(uv.polarization_array[pol_order], [-1, -2, -5, -6])
    auto_data = expect_data[autos]
    auto_data[:, :, parallel] = auto_data[:, :, parallel].real
    expect_data[autos] = auto_data
    r0 = i * nrow_per_part
    get = lambda c: ms.getcol(c, startrow=r0, nrow=nrow_per_part)  # noqa: E731
    got, uvw, tm, fl, ws, w = get("DATA"), get("UVW"), get("TIME"), get("FLAG"), get("WEIGHT_SPECTRUM"), get("WEIGHT")
    a1, a2 = get("ANTENNA1"), get("ANTENNA2")
    nonfinite_in_ms += int((~np.isfinite(got)).sum())
    equal["nonfinite_zeroed"] &= bool(np.all(got[bad] == 0) and np.all(fl[bad]))
    equal["interval"] &= bool(np.allclose(get("INTERVAL"), uv.integration_time, rtol=1e-9) and np.allclose(get("EXPOSURE"), uv.integration_time, rtol=1e-9))
    diff = np.abs(got - expect_data)
    mag = np.abs(expect_data)
    ok = ~flags
    worst["data_abs"] = max(worst["data_abs"], float(diff[ok].max()) if ok.any() else 0.0)
    rel = diff[ok] / np.maximum(mag[ok], 1e-3 * float(mag[ok].max())) if ok.any() else np.zeros(0)
    worst["data_rel"] = max(worst["data_rel"], float(rel.max()) if rel.size else 0.0)
    worst["uvw_m"] = max(worst["uvw_m"], float(np.abs(uvw + uv.uvw_array).max()))
    expect_time = (uv.time_array - 2400000.5) * 86400.0
    worst["time_s"] = max(worst["time_s"], float(np.abs(tm - expect_time).max()))
    equal["time"] &= bool(np.array_equal(tm, expect_time))
    equal["flag"] &= bool(np.array_equal(fl, flags))
    equal["weight_spectrum"] &= bool(np.array_equal(ws, nsamp))
    equal["weight"] &= bool(np.array_equal(w, np.median(nsamp, axis=1).astype(np.float32)))
    equal["antennas"] &= bool(np.array_equal(a1, uv.ant_1_array) and np.array_equal(a2, uv.ant_2_array))
    equal["missing_flagged"] &= bool(np.all(got[:, ~present] == 0) and np.all(fl[:, ~present]))
report["missing_channels"] = missing_channels
report["nonfinite"] = nonfinite
report["nonfinite_in_ms"] = nonfinite_in_ms
report.update(worst)
report["equal"] = equal
report["spw_freqs_ascending"] = bool(all(np.all(np.diff(f) > 0) for f in spw_freqs))
report["n_spw"] = len(spw_freqs)
report["n_corr"] = int(ms.getcol("DATA", startrow=0, nrow=1).shape[2])
report["field_deg"] = [float(np.degrees(ra)), float(np.degrees(dec))]
print(json.dumps(report))
