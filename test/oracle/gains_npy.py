"""Checks `simulate`'s <group>.gains.npy with numpy and h5py, independently of contimg.

Usage:
  gains_npy.py formula TRUTH            the npy against the truth file's formula
  gains_npy.py divide TRUTH WITH.hdf5... -- WITHOUT.hdf5...
                                        noiseless data with gains = conj(g1) g2 x the same data without
  gains_npy.py overlap TRUTH_A TRUTH_B  two runs: gains at the antennas and times they share
Prints one JSON object.
"""
import json
import os
import sys

import h5py
import numpy as np


def load(truth_path):
    t = json.load(open(truth_path))
    npy = os.path.join(os.path.dirname(truth_path), t["gains"]["npy"]["file"])
    return t, np.load(npy)


def formula(p, x, t_h):
    amp = p["a0"] * (1 + p["a1"] * x + p["a2"] * x**2) * (1 + p["ad"] * np.sin(2 * np.pi * t_h / p["ta_h"] + p["phia"]))
    ph = p["p0"] + p["p1"] * x + p["p2"] * x**2 + p["pd"] * np.sin(2 * np.pi * t_h / p["tp_h"] + p["phip"])
    return amp * np.exp(1j * ph)


def check_formula(truth_path):
    t, g = load(truth_path)
    n = t["gains"]["npy"]
    bc = t["gains"]["band_coordinate"]
    x = (np.array(n["freq_hz"]) - bc["freq_mid_hz"]) / bc["freq_span_hz"]
    t_h = (np.array(n["times_jd"]) - t["gains"]["epoch_jd"]) * 24
    want = np.zeros(g.shape, complex)
    for i, a in enumerate(t["gains"]["antennas"]):
        for k, pol in enumerate(["xx", "yy"]):
            want[i, :, :, k] = formula(a[pol], x[None, :], t_h[:, None])
    mjd_s = (np.array(n["times_jd"]) - 2400000.5) * 86400
    return {
        "shape": list(g.shape),
        "dtype": str(g.dtype),
        "declared_shape": n["shape"],
        "antennas": [a["antenna"] for a in n["antennas"]],
        "ms_rows": [a["ms_antenna_row"] for a in n["antennas"]],
        "freq_ascending": bool(np.all(np.diff(n["freq_hz"]) > 0)),
        "time_mjd_s_err": float(np.max(np.abs(mjd_s - np.array(n["time_mjd_s"])))),
        "max_rel_err": float(np.max(np.abs(g - want) / np.abs(want))),
    }


def read(files):
    out = []
    for f in files:
        with h5py.File(f, "r") as h:
            hd = h["Header"]
            out.append({
                "vis": h["Data"]["visdata"][:, 0, :, :],
                "a1": hd["ant_1_array"][:],
                "a2": hd["ant_2_array"][:],
                "t": hd["time_array"][:],
                "f": np.ravel(hd["freq_array"][:]),
            })
    return out


def check_divide(truth_path, with_files, without_files):
    t, g = load(truth_path)
    n = t["gains"]["npy"]
    index = {a["antenna"]: a["index"] for a in n["antennas"]}
    times = np.array(n["times_jd"])
    freqs = np.array(n["freq_hz"])
    worst, count = 0.0, 0
    for w, o in zip(read(with_files), read(without_files)):
        ti = np.array([int(np.argmin(np.abs(times - x))) for x in w["t"]])
        fi = np.array([int(np.argmin(np.abs(freqs - x))) for x in w["f"]])
        i1 = np.array([index[a] for a in w["a1"]])
        i2 = np.array([index[a] for a in w["a2"]])
        cross = w["a1"] != w["a2"]
        g1 = g[i1[:, None], ti[:, None], fi[None, :], :]
        g2 = g[i2[:, None], ti[:, None], fi[None, :], :]
        model = o["vis"].astype(complex)
        pred = np.conj(g1) * g2 * model
        err = np.abs(w["vis"] - pred) / np.abs(model)
        worst = max(worst, float(np.max(err[cross])))
        count += int(np.sum(cross)) * err.shape[1] * err.shape[2]
    return {"max_rel_err": worst, "n": count}


def check_overlap(ta_path, tb_path):
    ta, ga = load(ta_path)
    tb, gb = load(tb_path)
    na, nb = ta["gains"]["npy"], tb["gains"]["npy"]
    ants_a = {a["antenna"]: a["index"] for a in na["antennas"]}
    ants_b = {a["antenna"]: a["index"] for a in nb["antennas"]}
    common = sorted(set(ants_a) & set(ants_b))
    fa, fb = np.array(na["freq_hz"]), np.array(nb["freq_hz"])
    fpairs = [(i, int(np.argmin(np.abs(fb - f)))) for i, f in enumerate(fa) if np.min(np.abs(fb - f)) < 1.0]
    tpairs = [(i, j) for i, x in enumerate(na["times_jd"]) for j, y in enumerate(nb["times_jd"]) if abs(x - y) * 86400 < 1e-3]
    worst = 0.0
    for a in common:
        for ti, tj in tpairs:
            for fi, fj in fpairs:
                x, y = ga[ants_a[a], ti, fi], gb[ants_b[a], tj, fj]
                worst = max(worst, float(np.max(np.abs(x - y) / np.abs(x))))
    # How much the gains move across run A: the drift is real, not a constant.
    drift = float(np.max(np.abs(np.angle(ga[:, -1] / ga[:, 0]))))
    return {"common_antennas": len(common), "common_times": len(tpairs), "common_freqs": len(fpairs), "max_rel_diff": worst, "drift_rad_across_a": drift}


def main():
    mode = sys.argv[1]
    if mode == "formula":
        out = check_formula(sys.argv[2])
    elif mode == "divide":
        rest = sys.argv[3:]
        k = rest.index("--")
        out = check_divide(sys.argv[2], rest[:k], rest[k + 1:])
    elif mode == "overlap":
        out = check_overlap(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(f"unknown mode {mode}")
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
