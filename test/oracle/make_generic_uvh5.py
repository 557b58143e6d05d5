"""Writes non-DSA UVH5 files with pyuvdata itself, for the converter's generality tests.

Usage: make_generic_uvh5.py OUTDIR -> JSON {name: path}

- fourpol_multispw: unprojected (drift), 4 polarisations in pyuvdata's order (XX, YY, XY, YX),
  two spectral windows of 16 channels (one descending), 3 integrations, 7 antennas;
- phased: the same array phased by pyuvdata to a sidereal source, 2 polarisations;
- singlepol: one polarisation (XX), drift.
Data are seeded random visibilities with some flags; autocorrelations real.

Foreign files (issue 11), each one thing DSA-110 files never are:
- fourpol_mixed: 4 polarisations, baselines stored in both orders (ant1 < ant2 and ant1 > ant2),
  complex cross-hand autocorrelations (V_yx = conj(V_xy), as physics has them), drift;
- fourpol_mixed_phased: the same, phased by pyuvdata to a sidereal source;
- hera_drift: HERA (pyuvdata's own known-telescope site, antenna positions and dish sizes from
  its data/hera_ant_pos.csv, nothing written here) drift data with a point source seen the way
  a drift-scan simulator (pyuvsim) writes it: phase exp(-2πi (u l + v m + w (n − 1)) ν/c) from
  the ENU uvw, i.e. no phase beyond the geometry;
- single_channel: one frequency channel, drift;
- variable_inttime: integrations of 10, 10 and 20 s (times not evenly spaced), drift;
- dsa_keywords: a non-DSA telescope whose extra_keywords say it was fringe-stopped the DSA-110
  way (phase_center_dec, ha_phase_center, phase_center_epoch HADEC);
- lone_cross_mixed: both baseline orders with XX and XY only (refused: XY needs YX to swap);
- nonfinite: drift data with a few NaN and ±Inf visibilities (reported in the JSON with their
  count over unflagged samples).
"""
import json
import os
import sys
import warnings

import h5py
import numpy as np
from astropy.coordinates import EarthLocation
from astropy.coordinates.sites import SiteRegistry
from astropy.utils import iers
import astropy.units as u

iers.conf.auto_download = False
# astropy's site list is downloaded on first use; offline, give it one placeholder entry so
# that pyuvdata falls through to its own KNOWN_TELESCOPES (HERA's location is there).
EarthLocation._site_registry = SiteRegistry.from_json(
    {"_offline": {"name": "offline", "source": "", "elevation": 0, "elevation_unit": "meter", "latitude": 0, "latitude_unit": "degree", "longitude": 0, "longitude_unit": "degree", "timezone": "UTC", "aliases": []}}
)
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


def make(pols, freqs, spw_ids, name, phase=None, telescope=None, pairs=None, when=None, int_time=10.0, complex_cross_autos=False, fill=None, extra=None):
    uv = UVData.new(
        freq_array=freqs,
        polarization_array=pols,
        times=times if when is None else when,
        telescope=tel if telescope is None else telescope,
        antpairs=antpairs if pairs is None else pairs,
        do_blt_outer=True,
        integration_time=int_time,
        channel_width=np.full(freqs.size, 97656.25),
        flex_spw_id_array=spw_ids,
        empty=True,
    )
    shape = uv.data_array.shape
    uv.data_array = (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(np.complex64)
    if fill is not None:
        fill(uv)
    autos = uv.ant_1_array == uv.ant_2_array
    parallel = np.isin(uv.polarization_array, [-1, -2, -5, -6])
    if complex_cross_autos:
        # Parallel hands real and positive; XY complex, YX its conjugate (Hermitian).
        auto_data = uv.data_array[autos]
        auto_data[:, :, parallel] = np.abs(auto_data[:, :, parallel]) + 10
        pol = list(uv.polarization_array)
        for p, q in ((-7, -8), (-3, -4)):
            if p in pol and q in pol:
                auto_data[:, :, pol.index(q)] = np.conj(auto_data[:, :, pol.index(p)])
        uv.data_array[autos] = auto_data
    else:
        uv.data_array[autos] = np.abs(uv.data_array[autos]) + 10
    uv.flag_array = rng.random(shape) < 0.03
    uv.nsample_array = np.ones(shape, np.float32)
    if extra:
        uv.extra_keywords.update(extra)
    if phase is not None:
        uv.phase(ra=phase[0], dec=phase[1], epoch="J2000", phase_frame="icrs", cat_name="target")
    p = os.path.join(out, name + ".uvh5")
    uv.write_uvh5(p, clobber=True, run_check=fill is None)
    return p


f1 = 1.30e9 + np.arange(16) * 97656.25
f2 = (1.42e9 + np.arange(16) * 97656.25)[::-1]
res = {
    "fourpol_multispw": make([-5, -6, -7, -8], np.concatenate([f1, f2]), np.repeat([0, 1], 16), "fourpol_multispw"),
    "phased": make([-5, -6], f1, None, "phased", phase=(np.radians(250.0), np.radians(45.0))),
    "singlepol": make([-5], f1, None, "singlepol"),
}

# Baselines in both orders: every other cross pair written as (ant2, ant1).
mixed = [(b, a) if (a != b and k % 2) else (a, b) for k, (a, b) in enumerate(antpairs)]
res["fourpol_mixed"] = make([-5, -6, -7, -8], f1[:8], None, "fourpol_mixed", pairs=mixed, complex_cross_autos=True)
res["fourpol_mixed_phased"] = make(
    [-5, -6, -7, -8], f1[:8], None, "fourpol_mixed_phased", pairs=mixed, complex_cross_autos=True, phase=(np.radians(120.0), np.radians(-20.0))
)

# HERA from pyuvdata's own tables: 10 of its 350 antennas, 4 pols in pyuvdata's order.
hera = Telescope.from_known_telescopes("HERA")
hera.instrument = "HERA"  # the one field its table lacks and UVData.new requires
hera_ants = hera.antenna_numbers[[0, 1, 2, 11, 12, 25, 40, 60, 90, 140]]
hera_pairs = [(a, b) for i, a in enumerate(hera_ants) for b in hera_ants[i:]]


def point_source(uv):
    """A 50 Jy source 8° from zenith plus noise, as a drift simulator writes it (w from ENU)."""
    l, m = np.sin(np.radians(8.0)) * np.cos(0.3), np.sin(np.radians(8.0)) * np.sin(0.3)
    n = np.sqrt(1 - l * l - m * m)
    u, v, w = uv.uvw_array.T
    phase = -2j * np.pi * (u * l + v * m + w * (n - 1))[:, None] * uv.freq_array[None, :] / 2.99792458e8
    vis = 50.0 * np.exp(phase)
    uv.data_array = (uv.data_array * 0.5 + vis[:, :, None]).astype(np.complex64)


hera_times = 2460950.3 + np.arange(3) * 10.7 / 86400
res["hera_drift"] = make([-5, -6, -7, -8], 1.5e8 + np.arange(12) * 97656.25, None, "hera_drift", telescope=hera, pairs=hera_pairs, when=hera_times, int_time=10.7, fill=point_source)

res["single_channel"] = make([-5, -6], f1[:1], None, "single_channel")

# 10, 10 and 20 s integrations: centres 0, 10 and 25 s.
res["variable_inttime"] = make([-5, -6], f1[:8], None, "variable_inttime", when=2460950.6 + np.array([0.0, 10.0, 25.0]) / 86400, int_time=np.array([10.0, 10.0, 20.0]))

res["dsa_keywords"] = make(
    [-5, -6], f1[:8], None, "dsa_keywords", extra={"phase_center_dec": np.radians(37.2), "ha_phase_center": 0.0, "phase_center_epoch": "HADEC"}
)


def poison(uv):
    """NaN, +Inf and −Inf in a few real or imaginary parts (some in flagged samples too)."""
    flat = uv.data_array.reshape(-1)
    idx = rng.choice(flat.size, size=9, replace=False)
    for k, i in enumerate(idx):
        bad = [np.nan, np.inf, -np.inf][k % 3]
        flat[i] = complex(bad, flat[i].imag) if k % 2 else complex(flat[i].real, bad)


# Both baseline orders but only XY of the cross hands: cannot be conjugated to ant1 < ant2.
res["lone_cross_mixed"] = make([-5, -7], f1[:4], None, "lone_cross_mixed", pairs=mixed)

res["nonfinite"] = make([-5, -6], f1[:8], None, "nonfinite", fill=poison)
with h5py.File(res["nonfinite"], "r") as h:
    d = h["Data/visdata"][()]
    f = h["Data/flags"][()]
    bad = ~(np.isfinite(d["r"] if d.dtype.names else d.real) & np.isfinite(d["i"] if d.dtype.names else d.imag))
    res["nonfinite_count"] = int(bad.sum())
    res["nonfinite_unflagged"] = int((bad & ~f).sum())
print(json.dumps(res))
