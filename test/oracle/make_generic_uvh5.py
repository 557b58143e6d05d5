"""Writes non-DSA UVH5 files with pyuvdata itself, for the converter's generality tests.

Usage: make_generic_uvh5.py OUTDIR -> JSON {name: path}

- fourpol_multispw: unprojected (drift), 4 polarisations in pyuvdata's order (XX, YY, XY, YX),
  two spectral windows of 16 channels (one descending), 3 integrations, 7 antennas;
- phased: the same array phased by pyuvdata to a sidereal source, 2 polarisations;
- singlepol: one polarisation (XX), drift.
Data are seeded random visibilities with some flags; autocorrelations real.
"""
import json
import os
import sys
import warnings

import numpy as np
from astropy.coordinates import EarthLocation
from astropy.utils import iers
import astropy.units as u

iers.conf.auto_download = False
from pyuvdata import Telescope, UVData  # noqa: E402

warnings.simplefilter("ignore")
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(42)

loc = EarthLocation.from_geodetic(lon=-118.283405 * u.deg, lat=37.233387 * u.deg, height=1188.05 * u.m)
# A small non-coplanar array (heights differ) so that w of a zenith drift is not zero.
enu = np.array([[0, 0, 0], [35, 4, 1.5], [-20, 60, -2.0], [80, -35, 3.0], [-150, -90, 0.5], [300, 120, -4.0], [-40, 500, 6.0]], float)
lat, lon = np.radians(37.233387), np.radians(-118.283405)
rot = np.array(
    [
        [-np.sin(lon), -np.sin(lat) * np.cos(lon), np.cos(lat) * np.cos(lon)],
        [np.cos(lon), -np.sin(lat) * np.sin(lon), np.cos(lat) * np.sin(lon)],
        [0, np.cos(lat), np.sin(lat)],
    ]
)
ecef = enu @ rot.T
tel = Telescope.new(
    name="TESTARRAY",
    location=loc,
    antenna_positions=ecef,
    antenna_names=[f"ant{i}" for i in range(len(enu))],
    antenna_numbers=np.arange(len(enu)) * 2 + 3,  # non-contiguous numbers
    instrument="TEST",
    antenna_diameters=np.full(len(enu), 6.0),
)
times = 2460950.6 + np.arange(3) * 10.0 / 86400
antpairs = [(a, b) for i, a in enumerate(tel.antenna_numbers) for b in tel.antenna_numbers[i:]]


def make(pols, freqs, spw_ids, name, phase=None):
    uv = UVData.new(
        freq_array=freqs,
        polarization_array=pols,
        times=times,
        telescope=tel,
        antpairs=antpairs,
        do_blt_outer=True,
        integration_time=10.0,
        channel_width=np.full(freqs.size, 97656.25),
        flex_spw_id_array=spw_ids,
        empty=True,
    )
    shape = uv.data_array.shape
    uv.data_array = (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(np.complex64)
    autos = uv.ant_1_array == uv.ant_2_array
    uv.data_array[autos] = np.abs(uv.data_array[autos]) + 10
    uv.flag_array = rng.random(shape) < 0.03
    uv.nsample_array = np.ones(shape, np.float32)
    if phase is not None:
        uv.phase(ra=phase[0], dec=phase[1], epoch="J2000", phase_frame="icrs", cat_name="target")
    p = os.path.join(out, name + ".uvh5")
    uv.write_uvh5(p, clobber=True)
    return p


f1 = 1.30e9 + np.arange(16) * 97656.25
f2 = (1.42e9 + np.arange(16) * 97656.25)[::-1]
res = {
    "fourpol_multispw": make([-5, -6, -7, -8], np.concatenate([f1, f2]), np.repeat([0, 1], 16), "fourpol_multispw"),
    "phased": make([-5, -6], f1, None, "phased", phase=(np.radians(250.0), np.radians(45.0))),
    "singlepol": make([-5], f1, None, "singlepol"),
}
print(json.dumps(res))
