"""Reads UVH5 files with pyuvdata and prints every array a reader must reproduce, in full.

Usage: uvh5_arrays.py FILE [FILE ...] -> JSON list, one entry per file:
{file, error} when pyuvdata refuses the file, else {file, nblts, nbls, ntimes, nfreqs, npols,
vis_units, phased, uvw, time_jd, freq_hz, channel_width_hz (float64), data ([re, im, ...] of
complex64 in [blt][freq][pol] order), flags [0/1...], nsamples (float32)}. Floats are given as
their IEEE bit patterns (unsigned integers), so comparisons are exact whatever JSON parser
reads them. For small files only.
pyuvdata's own checks run (run_check=True), with fix_old_proj=False so data are as stored.
"""
import json
import sys
import warnings

import numpy as np
from astropy.utils import iers

iers.conf.auto_download = False
from pyuvdata import UVData  # noqa: E402

warnings.simplefilter("ignore")


def bits64(a):
    return np.ascontiguousarray(a, dtype="<f8").ravel().view("<u8").tolist()


def bits32(a):
    return np.ascontiguousarray(a, dtype="<f4").ravel().view("<u4").tolist()


out = []
for f in sys.argv[1:]:
    try:
        uv = UVData.from_file(f, file_type="uvh5", fix_old_proj=False)
    except Exception as e:  # noqa: BLE001 - the refusal itself is the answer
        out.append({"file": f, "error": f"{type(e).__name__}: {e}"})
        continue
    cat = uv.phase_center_catalog[int(uv.phase_center_id_array[0])]
    out.append(
        {
            "file": f,
            "nblts": int(uv.Nblts),
            "nbls": int(uv.Nbls),
            "ntimes": int(uv.Ntimes),
            "nfreqs": int(uv.Nfreqs),
            "npols": int(uv.Npols),
            "vis_units": uv.vis_units,
            "phased": cat["cat_type"] == "sidereal",
            "uvw": bits64(uv.uvw_array),
            "time_jd": bits64(uv.time_array),
            "freq_hz": bits64(uv.freq_array),
            "channel_width_hz": bits64(np.broadcast_to(uv.channel_width, uv.freq_array.shape)),
            "data": bits32(uv.data_array.astype(np.complex64).view(np.float32)),
            "flags": uv.flag_array.ravel().astype(int).tolist(),
            "nsamples": bits32(uv.nsample_array.astype(np.float32)),
        }
    )
print(json.dumps(out))
