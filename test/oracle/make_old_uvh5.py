"""Writes variants of an old (UVH5 0.1) file with the other quirks old writers left.

Usage: make_old_uvh5.py V01_FILE OUTDIR -> JSON {variant: path}

The input is a real version-0.1 HERA file (pyuvdata's own test data). Each variant changes one
thing that pyuvdata 3.2's reader (pyuvdata/uvdata/uvh5.py, utils/io/hdf5.py) still accepts:
- hera_nbls: Nbls recorded as Nblts, the HERA writer bug before March 2023 (pyuvdata
  recomputes Nbls = Nblts / Ntimes for telescope "HERA"); some flags set and nsamples varied
  (the real file has neither);
- vlen_strings: every string key stored as variable-length UTF-8 (h5py str) instead of
  fixed-length bytes;
- uncalib_phased: vis_units "UNCALIB" (older files allowed upper case), phase_type "phased"
  with phase_center_ra/dec/epoch/frame keys, an integer uvplane_reference_time, and no
  version key at all;
- dsa_legacy_spw: like hera_nbls but written as the DSA-110 correlator would name it
  ("OVRO_MMA"), so the HERA rule must NOT apply and the file is refused as inconsistent.
"""
import json
import os
import shutil
import sys

import h5py
import numpy as np

src, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
res = {}


def variant(name):
    p = os.path.join(out, name + ".uvh5")
    shutil.copy(src, p)
    res[name] = p
    return h5py.File(p, "r+")


def replace(hd, key, value):
    del hd[key]
    hd[key] = value


with variant("hera_nbls") as h:
    replace(h["Header"], "Nbls", h["Header/Nblts"][()])
    # The real file has no flags and unit nsamples; vary them so comparisons mean something.
    flags = h["Data/flags"][()]
    flags[::7, :, 3:9, 0] = True
    h["Data/flags"][...] = flags
    ns = h["Data/nsamples"][()]
    ns[::5] = 0.5
    h["Data/nsamples"][...] = ns

with variant("vlen_strings") as h:
    hd = h["Header"]
    for key in list(hd.keys()):
        ds = hd[key]
        if isinstance(ds, h5py.Dataset) and ds.dtype.kind == "S":
            value = ds[()]
            if ds.shape == ():
                replace(hd, key, value.decode("utf8"))
            else:
                del hd[key]
                hd.create_dataset(key, data=[v.decode("utf8") for v in value], dtype=h5py.string_dtype())

with variant("uncalib_phased") as h:
    hd = h["Header"]
    replace(hd, "vis_units", np.bytes_("UNCALIB"))
    replace(hd, "phase_type", np.bytes_("phased"))
    hd["phase_center_ra"] = 1.25
    hd["phase_center_dec"] = -0.5
    hd["phase_center_epoch"] = 2000.0
    hd["phase_center_frame"] = np.bytes_("fk5")
    hd["uvplane_reference_time"] = 0
    del hd["version"]

with variant("dsa_legacy_spw") as h:
    hd = h["Header"]
    replace(hd, "Nbls", hd["Nblts"][()])
    replace(hd, "telescope_name", np.bytes_("OVRO_MMA"))

print(json.dumps(res))
