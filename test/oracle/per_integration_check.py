"""Checks an MS written with --phase-mode per-integration against its input files.

Usage: per_integration_check.py MS FILE [FILE ...] -> JSON
  max_data_diff: largest |DATA − conj(visdata)| over all rows and channels (0 = not rotated);
  field_ids: the FIELD_ID of each integration; max_uvw_length_diff_m: largest difference between
  |UVW| and the baseline length from the antenna positions.
"""
import json
import sys

import casacore.tables as pt
import h5py
import numpy as np

ms_path, files = sys.argv[1], sys.argv[2:]
ms = pt.table(ms_path, ack=False)
data = ms.getcol("DATA")
field = ms.getcol("FIELD_ID")
uvw = ms.getcol("UVW")
a1, a2 = ms.getcol("ANTENNA1"), ms.getcol("ANTENNA2")
freq = pt.table(ms_path + "/SPECTRAL_WINDOW", ack=False).getcol("CHAN_FREQ")[0]
chunks, fchunks, pos = [], [], None
for f in files:
    with h5py.File(f, "r") as h:
        v = h["Data/visdata"][()][:, 0]
        chunks.append(v)
        fchunks.append(h["Header/freq_array"][()].ravel())
        pos = h["Header/antenna_positions"][()]
        times = h["Header/time_array"][()]
allf = np.concatenate(fchunks)
order = np.argsort(allf)
vis = np.concatenate(chunks, axis=1)[:, order]
assert np.allclose(allf[order], freq)
expected = np.conj(vis)
autos = a1 == a2
expected[autos] = expected[autos].real
blen = np.linalg.norm(pos[a2] - pos[a1], axis=1)
ut = np.unique(times)
print(json.dumps({
    "max_data_diff": float(np.abs(data - expected).max()),
    "field_ids": [int(field[times == t][0]) for t in ut],
    "max_uvw_length_diff_m": float(np.abs(np.linalg.norm(uvw, axis=1) - blen).max()),
}))
