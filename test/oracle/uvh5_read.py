"""Reads UVH5 files with pyuvdata (checks on) and h5py, and reports digests of the arrays.

Usage: uvh5_read.py FILE [FILE ...]  -> JSON list, one entry per file.

Real DSA-110 files store uvw_array as float32, which pyuvdata's strict type check refuses;
such files are read without the check, uvw cast to float64 (as every DSA-110 reader does), and
then check() is run explicitly with all its checks. Digests are SHA-256 of the data as
complex64 little-endian in [blt][freq][pol] order, flags as one byte each, nsamples float32:
the same bytes contimg's `uvh5Digest` hashes.
"""
import hashlib
import json
import sys
import warnings

import h5py
import numpy as np
from astropy.utils import iers

iers.conf.auto_download = False
from pyuvdata import UVData  # noqa: E402


def digest(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def raw(f):
    with h5py.File(f, "r") as h:
        d = h["Data"]
        v = d["visdata"][()]
        if v.dtype.names:  # integer or custom compound
            v = v["r"].astype(np.float64) + 1j * v["i"].astype(np.float64)
        if v.ndim == 4:
            v = v[:, 0]
        fl = d["flags"][()]
        ns = d["nsamples"][()]
        if fl.ndim == 4:
            fl, ns = fl[:, 0], ns[:, 0]
        return v, fl, ns, h["Header/uvw_array"].dtype == np.float32


out = []
for f in sys.argv[1:]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        v, fl, ns, uvw32 = raw(f)
        uv = UVData()
        # fix_old_proj=False: report the data as stored, without re-projecting legacy phased data.
        if uvw32:
            uv.read(f, file_type="uvh5", run_check=False, fix_old_proj=False)
            uv.uvw_array = uv.uvw_array.astype(np.float64)
            uv.check(check_extra=True, run_check_acceptability=True)
        else:
            uv.read(f, file_type="uvh5", fix_old_proj=False)  # run_check=True by default
    data = uv.data_array.astype(np.complex64)
    out.append(
        {
            "file": f,
            "nblts": int(uv.Nblts),
            "nbls": int(uv.Nbls),
            "ntimes": int(uv.Ntimes),
            "nfreqs": int(uv.Nfreqs),
            "npols": int(uv.Npols),
            "nspws": int(uv.Nspws),
            "pols": [int(p) for p in uv.polarization_array],
            "freq_first_hz": float(uv.freq_array[0]),
            "freq_last_hz": float(uv.freq_array[-1]),
            "uvw_float32": bool(uvw32),
            "data_equals_raw": bool(np.array_equal(uv.data_array, v.astype(uv.data_array.dtype))),
            "flags_equal_raw": bool(np.array_equal(uv.flag_array, fl)),
            "nsamples_equal_raw": bool(np.array_equal(uv.nsample_array, ns)),
            "digest": {
                "vis": digest(data.view(np.float32).astype("<f4")),
                "flags": digest(uv.flag_array.astype(np.uint8)),
                "nsamples": digest(uv.nsample_array.astype("<f4")),
            },
            "warnings": sorted({str(w.message)[:160] for w in caught}),
        }
    )
print(json.dumps(out))
