"""The reference pipeline for the convert benchmark: what the Python/CASA-era tooling does with
pyuvdata — read every subband file, combine them along frequency, phase to the meridian centre
(after taking out the phase the stored uvw describe, so the result equals contimg's), and
write_ms.

Usage: pyuvdata_convert.py OUT.ms RA_DEG DEC_DEG FILE [FILE ...]  -> JSON timings
"""
import json
import os
import sys
import time
import warnings

import numpy as np
from astropy.utils import iers

iers.conf.auto_download = False
from pyuvdata import UVData  # noqa: E402

warnings.simplefilter("ignore")
out, ra, dec, files = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4:]
t0 = time.perf_counter()
parts = []
for f in files:
    uv = UVData()
    uv.read(f, file_type="uvh5", run_check=False)
    uv.uvw_array = uv.uvw_array.astype(np.float64)
    parts.append(uv)
uv = parts[0].fast_concat(parts[1:], axis="freq", inplace=False, run_check=False) if len(parts) > 1 else parts[0]
del parts
t1 = time.perf_counter()
uv._apply_w_proj(new_w_vals=0.0, old_w_vals=uv.uvw_array[:, 2])
uv.phase(ra=np.radians(ra), dec=np.radians(dec), epoch="J2000", phase_frame="icrs", cat_name="field")
uv.reorder_freqs(channel_order="freq")
t2 = time.perf_counter()
uv.write_ms(out, clobber=True, run_check=False, check_autos=False)
# Durable, as contimg's output is: fsync every file of the MS.
for d, _, names in os.walk(out):
    for n in names:
        fd = os.open(os.path.join(d, n), os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
t3 = time.perf_counter()
print(json.dumps({"read_s": t1 - t0, "phase_s": t2 - t1, "write_s": t3 - t2, "total_s": t3 - t0}))
