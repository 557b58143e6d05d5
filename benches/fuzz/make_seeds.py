"""Writes the fuzz seeds: the smallest UVH5 files that still exercise each layout.

Usage: make_seeds.py OUTDIR   (writes OUTDIR/uvh5_file/* and OUTDIR/chunk_index/*)

Committed output: fuzz/seeds/ (regenerate with `make_seeds.py fuzz/seeds`).

Each file has 3 antennas, 2 times, 4 channels and 2 polarisations, so it is a few KB and
libFuzzer can mutate it quickly. Variants: current shapes contiguous and chunked, legacy spw
axis (as the DSA-110 correlator writes), integer visibilities, gzip, version 0.1 strings,
phased, and a v1.2 phase-centre catalogue. pyuvdata reads each one (checked here), so every
seed starts as a valid file. chunk_index seeds are the chunked files with the fuzz target's
5-byte prefix (address size and rank, then Data/visdata's object-header address).
"""
import os
import struct
import sys
import warnings

import h5py
import numpy as np

warnings.simplefilter("ignore")
out = sys.argv[1]
os.makedirs(os.path.join(out, "uvh5_file"), exist_ok=True)
os.makedirs(os.path.join(out, "chunk_index"), exist_ok=True)

N_ANTS, N_TIMES, N_FREQS, N_POLS = 3, 2, 4, 2
a1, a2 = zip(*[(i, j) for i in range(N_ANTS) for j in range(i, N_ANTS)])
n_bls = len(a1)
n_blts = n_bls * N_TIMES
rng = np.random.default_rng(1)


def header(h, version=b"1.2", phased=False, catalog=False, vlen=False):
    s = (lambda v: v.decode()) if vlen else (lambda v: np.bytes_(v))
    hd = h.create_group("Header")
    if version is not None:
        hd["version"] = s(version)
    hd["telescope_name"] = s(b"OVRO_MMA")
    hd["instrument"] = s(b"DSA")
    hd["latitude"], hd["longitude"], hd["altitude"] = 37.233387, -118.283405, 1188.05
    hd["Nants_telescope"] = N_ANTS
    hd["antenna_names"] = np.array([b"1", b"2", b"3"]) if not vlen else ["1", "2", "3"]
    hd["antenna_numbers"] = np.arange(N_ANTS)
    hd["antenna_positions"] = np.array([[0.0, 0, 0], [10, 5, 1], [-4, 20, 2]])
    hd["antenna_diameters"] = np.full(N_ANTS, 4.65)
    hd["Nblts"], hd["Nbls"], hd["Ntimes"] = n_blts, n_bls, N_TIMES
    hd["Nfreqs"], hd["Npols"], hd["Nspws"], hd["Nants_data"] = N_FREQS, N_POLS, 1, N_ANTS
    hd["ant_1_array"] = np.tile(a1, N_TIMES)
    hd["ant_2_array"] = np.tile(a2, N_TIMES)
    hd["time_array"] = np.repeat(2460950.5 + np.arange(N_TIMES) * 12.884902 / 86400, n_bls)
    hd["integration_time"] = np.full(n_blts, 12.884902)
    pos = hd["antenna_positions"][()]
    hd["uvw_array"] = np.tile(pos[list(a2)] - pos[list(a1)], (N_TIMES, 1))
    hd["freq_array"] = 1.4e9 + np.arange(N_FREQS) * 244140.625
    hd["channel_width"] = np.full(N_FREQS, 244140.625)
    hd["spw_array"] = np.array([0])
    hd["polarization_array"] = np.array([-5, -6])
    hd["vis_units"] = s(b"uncalib")
    hd["history"] = s(b"fuzz seed")
    if catalog:
        g = hd.create_group("phase_center_catalog").create_group("0")
        g["cat_name"], g["cat_type"] = np.bytes_(b"zenith"), np.bytes_(b"unprojected")
        hd["phase_center_id_array"] = np.zeros(n_blts, dtype=int)
        hd["Nphase"] = 1
        for k, v in [("phase_center_app_ra", 0.0), ("phase_center_app_dec", 0.65), ("phase_center_frame_pa", 0.0)]:
            hd[k] = np.full(n_blts, v)
    elif phased:
        hd["phase_type"] = s(b"phased")
        hd["phase_center_ra"], hd["phase_center_dec"], hd["phase_center_epoch"] = 1.0, 0.9, 2000.0
        hd["phase_center_frame"] = s(b"icrs")
        hd["object_name"] = s(b"src")
    else:
        hd["phase_type"] = s(b"drift")
    ek = hd.create_group("extra_keywords")
    ek["phase_center_dec"] = 0.9
    ek["fs_table"] = np.bytes_(b"table.npz")
    return hd


def data(h, legacy=False, dtype="c8", **kw):
    d = h.create_group("Data")
    shape = (n_blts, 1, N_FREQS, N_POLS) if legacy else (n_blts, N_FREQS, N_POLS)
    vis = (np.round(rng.normal(size=shape) * 8) + 1j * np.round(rng.normal(size=shape) * 8))
    ctype = {"c8": np.dtype([("r", "<f4"), ("i", "<f4")]), "c16": np.dtype([("r", "<f8"), ("i", "<f8")]),
             "i4": np.dtype([("r", "<i4"), ("i", "<i4")])}[dtype]
    v = np.empty(shape, dtype=ctype)
    v["r"], v["i"] = vis.real, vis.imag
    d.create_dataset("visdata", data=v, **kw)
    d.create_dataset("flags", data=rng.random(shape) < 0.2, **kw)
    d.create_dataset("nsamples", data=np.ones(shape, dtype=np.float32), **kw)


def seed(name, *, hdr={}, dat={}):
    p = os.path.join(out, "uvh5_file", name + ".uvh5")
    with h5py.File(p, "w") as h:
        header(h, **hdr)
        data(h, **dat)
    if dat.get("chunks"):
        with h5py.File(p, "r") as h:
            addr = h5py.h5o.get_info(h["Data/visdata"].id).addr
            rank = len(h["Data/visdata"].shape)
        # Address size 8 (code 2), rank 3 or 4 (code rank-1), max_chunks code 15.
        prefix = bytes([2 | ((rank - 1) << 2) | (15 << 4)]) + struct.pack("<I", addr)
        with open(p, "rb") as f, open(os.path.join(out, "chunk_index", name), "wb") as g:
            g.write(prefix + f.read())
    return p


files = [
    seed("contiguous"),
    seed("chunked", dat=dict(chunks=(3, 2, 1))),
    seed("legacy_chunked_dsa", hdr=dict(version=None), dat=dict(legacy=True, chunks=(6, 1, 4, 2))),
    seed("int32_chunked", dat=dict(dtype="i4", chunks=(12, 4, 2))),
    seed("gzip", dat=dict(dtype="c16", chunks=(6, 4, 2), compression="gzip")),
    seed("v01_vlen_phased", hdr=dict(version=b"0.1", phased=True, vlen=True), dat=dict(legacy=True)),
    seed("catalog_chunked", hdr=dict(catalog=True), dat=dict(chunks=(1, 4, 2))),
]

if "--check" in sys.argv:
    from pyuvdata import UVData

    for f in files:
        UVData.from_file(f, file_type="uvh5", run_check=True)
        print("pyuvdata reads", os.path.basename(f), os.path.getsize(f), "bytes")
