"""Writes broken copies of a good UVH5 file, one fault each.

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

p = copy("truncated.hdf5")
size = os.path.getsize(p)
with open(p, "r+b") as f:
    f.truncate(size // 2)

p = os.path.join(out, "not_hdf5.hdf5")
with open(p, "w") as f:
    f.write("this is a text file, not HDF5\n" * 10)
res["not_hdf5"] = p
print(json.dumps(res))
