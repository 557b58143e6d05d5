"""Writes UVH5 variants of one input file the way pyuvdata (and older writers) do.

Usage: make_uvh5_variants.py INPUT OUTDIR -> JSON {name: path}

Variants: pyuvdata's current format (v1.2) as complex128, complex64, gzip- and lzf-compressed,
chunked or contiguous, with integer compound visdata (int16, int32); legacy shapes (v1.0, spw
axis) phased with phase_type "phased"; and a v1.1 JSON phase-centre catalogue.
"""
import json
import os
import shutil
import sys
import warnings

import h5py
import numpy as np
from astropy.utils import iers

iers.conf.auto_download = False
from pyuvdata import UVData  # noqa: E402

warnings.simplefilter("ignore")
src, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
uv = UVData()
uv.read(src, file_type="uvh5", run_check=False)
uv.uvw_array = uv.uvw_array.astype(np.float64)
# Integer-valued data survive every integer variant unchanged.
uv.data_array = (np.round(uv.data_array * 4) / 4).astype(np.complex64)
res = {}


def w(name, **kw):
    p = os.path.join(out, name)
    uv.write_uvh5(p, clobber=True, run_check=False, **kw)
    res[name.rsplit(".", 1)[0]] = p


w("current_c16.uvh5", data_write_dtype="c16")
w("current_c8_contiguous.uvh5", data_write_dtype="c8", chunks=None, flags_compression=None, nsample_compression=None)
w("current_c8_chunked.uvh5", data_write_dtype="c8", chunks=(64, 4, 1), flags_compression=None, nsample_compression=None)
w("gzip.uvh5", data_write_dtype="c8", data_compression="gzip")
w("lzf.uvh5", data_write_dtype="c8", data_compression="lzf")
w("int32.uvh5", data_write_dtype=np.dtype([("r", "<i4"), ("i", "<i4")]))
w("int16.uvh5", data_write_dtype=np.dtype([("r", "<i2"), ("i", "<i2")]))

# Legacy (UVH5 1.0): spw axis in the data, phase_type "phased" with phase_center_* keys.
p = os.path.join(out, "legacy_phased.uvh5")
shutil.copy(src, p)
with h5py.File(p, "r+") as h:
    hd = h["Header"]
    hd["version"] = np.bytes_("1.0")
    del hd["phase_type"]
    hd["phase_type"] = np.bytes_("phased")
    hd["phase_center_ra"] = 1.0
    hd["phase_center_dec"] = 0.9
    hd["phase_center_epoch"] = 2000.0
    hd["phase_center_frame"] = np.bytes_("icrs")
    uvw = hd["uvw_array"][()].astype(np.float64)
    del hd["uvw_array"]
    hd["uvw_array"] = uvw
res["legacy_phased"] = p

# UVH5 1.1: the phase-centre catalogue as one JSON string per centre.
p = os.path.join(out, "v11_json_catalog.uvh5")
shutil.copy(os.path.join(out, "current_c8_contiguous.uvh5"), p)
with h5py.File(p, "r+") as h:
    hd = h["Header"]
    del hd["phase_center_catalog"]
    g = hd.create_group("phase_center_catalog")
    g["unprojected"] = np.bytes_(json.dumps({"cat_id": int(uv.phase_center_id_array[0]), "cat_type": "unprojected"}))
    del hd["version"]
    hd["version"] = np.bytes_("1.1")
res["v11_json_catalog"] = p
print(json.dumps(res))
