"""Writes broken copies of a good UVH5 file, one fault each (absurd counts included).

Usage: make_bad_uvh5.py GOOD OUTDIR -> JSON {fault: path}
"""
import json
import os
import shutil
import sys

import h5py
import numpy as np

good, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
res = {}


def copy(name):
    p = os.path.join(out, name)
    shutil.copy(good, p)
    res[name.rsplit(".", 1)[0]] = p
    return p


with h5py.File(copy("missing_dataset.hdf5"), "r+") as h:
    del h["Data/flags"]
with h5py.File(copy("missing_key.hdf5"), "r+") as h:
    del h["Header/Nblts"]
with h5py.File(copy("bad_shape.hdf5"), "r+") as h:
    v = h["Data/visdata"][()]
    del h["Data/visdata"]
    h["Data/visdata"] = v[:, :, :-1, :]  # one channel short of Nfreqs
with h5py.File(copy("inconsistent.hdf5"), "r+") as h:
    n = h["Header/Ntimes"][()]
    del h["Header/Ntimes"]
    h["Header/Ntimes"] = n + 1
with h5py.File(copy("bad_version.hdf5"), "r+") as h:
    h["Header/version"] = np.bytes_("2.0")



def set_key(name, key, value):
    with h5py.File(copy(name + ".hdf5"), "r+") as h:
        del h["Header/" + key]
        h["Header/" + key] = value


# Absurd counts: each must be named with its signed value, before anything is sized from it.
set_key("negative_ntimes", "Ntimes", -3)
set_key("zero_nblts", "Nblts", 0)
set_key("negative_nfreqs", "Nfreqs", -48)
set_key("huge_nfreqs", "Nfreqs", 2**62)
# A header array whose shape claims 2^40 baseline-times (8 TiB) with nothing stored: reading it
# would allocate terabytes; it must be refused from its shape and stored size alone.
with h5py.File(copy("unstored_ant_array.hdf5"), "r+") as h:
    hd = h["Header"]
    del hd["Nblts"], hd["ant_1_array"]
    hd["Nblts"] = 2**40
    hd.create_dataset("ant_1_array", shape=(2**40,), dtype="<i8", chunks=(4096,))

p = copy("truncated.hdf5")
size = os.path.getsize(p)
with open(p, "r+b") as f:
    f.truncate(size // 2)

p = os.path.join(out, "not_hdf5.hdf5")
with open(p, "w") as f:
    f.write("this is a text file, not HDF5\n" * 10)
res["not_hdf5"] = p
print(json.dumps(res))
