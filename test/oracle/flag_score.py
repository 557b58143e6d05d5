"""Scores an MS's FLAG against the simulator's RFI truth (<group>.rfi.npy), with
python-casacore and numpy, independently of contimg; and small FLAG utilities for the tests.

Usage:
  flag_score.py score MS TRUTH [--edge-channels N] [--no-quack]
      detection = |FLAG & RFI & ~design| / |RFI & ~design|
      false     = |FLAG & ~RFI & ~design| / |~RFI & ~design|
      where `design` are the samples flagged by design (autocorrelations, the first and last
      integration unless --no-quack, N edge channels); the same two numbers over all samples
      are reported as detection_all / false_all.
  flag_score.py mask RFI_DIR CLEAN_DIR
      the group simulated with --rfi against the same seed without: the samples that differ
      (h5py) must be exactly rfi.npy's
  flag_score.py hash MS            sha256 of FLAG (and FLAG_ROW), and the flagged count
  flag_score.py preset MS          flags a fixed pattern (every 7th row, channels 5..8, the first
                                   correlation only) and reports how many samples it set
  flag_score.py preset-kept MS     how many samples of that pattern are not flagged now
Prints one JSON object.
"""
import hashlib
import json
import os
import sys

import numpy as np
from casacore.tables import table

CORR_NAMES = {9: "XX", 12: "YY", 5: "RR", 8: "LL"}


def ms_to_truth(ms, truth_path):
    t = json.load(open(truth_path))
    r = t["rfi"]["npy"]
    mask = np.load(os.path.join(os.path.dirname(truth_path), r["file"]))
    tb = table(ms, ack=False)
    time = tb.getcol("TIME")
    a1, a2 = tb.getcol("ANTENNA1"), tb.getcol("ANTENNA2")
    flag = tb.getcol("FLAG")  # [row, chan, corr]
    tb.close()
    tb = table(ms, ack=False)
    dd = tb.getcol("DATA_DESC_ID")
    tb.close()
    spw_of_dd = table(os.path.join(ms, "DATA_DESCRIPTION"), ack=False).getcol("SPECTRAL_WINDOW_ID")
    chan_freq = table(os.path.join(ms, "SPECTRAL_WINDOW"), ack=False).getcol("CHAN_FREQ")  # [spw, chan]
    freq = chan_freq[spw_of_dd[dd]]  # [row, chan]: each row's window
    corr = table(os.path.join(ms, "POLARIZATION"), ack=False).getcol("CORR_TYPE")[0]
    ttimes = np.array(r["time_mjd_s"])
    ti = np.abs(time[:, None] - ttimes[None, :]).argmin(axis=1)
    assert np.all(np.abs(time - ttimes[ti]) < 1.0), "MS times do not match the truth's"
    bl_index = {tuple(b): i for i, b in enumerate(r["baselines"])}
    bi = np.array([bl_index[(x, y)] for x, y in zip(a1, a2)])
    tf = np.array(r["freq_hz"])
    fi = np.searchsorted(tf, freq).clip(1, len(tf) - 1)
    fi = np.where(np.abs(tf[fi - 1] - freq) < np.abs(tf[fi] - freq), fi - 1, fi)  # [row, chan]
    assert np.all(np.abs(freq - tf[fi]) < 1.0), "MS channels do not match the truth's"
    pi = [r["pols"].index(CORR_NAMES[c]) for c in corr]
    truth = mask[ti, bi][np.arange(len(ti))[:, None], fi][:, :, pi]  # [row, chan, corr]
    return flag, truth, ti, a1 == a2, len(ttimes)


def score(ms, truth_path, edge, quack):
    flag, rfi, ti, auto, n_t = ms_to_truth(ms, truth_path)
    design = np.zeros_like(flag)
    design[auto] = True
    if quack:
        design[(ti == 0) | (ti == n_t - 1)] = True
    if edge > 0:
        design[:, :edge] = True
        design[:, -edge:] = True
    keep = ~design
    out = {
        "samples": int(flag.size),
        "rfi_samples": int(rfi.sum()),
        "design_samples": int(design.sum()),
        "detection": float((flag & rfi & keep).sum() / max(1, (rfi & keep).sum())),
        "false": float((flag & ~rfi & keep).sum() / max(1, (~rfi & keep).sum())),
        "detection_all": float((flag & rfi).sum() / max(1, rfi.sum())),
        "false_all": float((flag & ~rfi).sum() / max(1, (~rfi).sum())),
        "flagged_fraction": float(flag.mean()),
    }
    print(json.dumps(out))


def mask_vs_data(rfi_dir, clean_dir):
    import glob

    import h5py

    truth = json.load(open(glob.glob(os.path.join(rfi_dir, "*.truth.json"))[0]))
    r = truth["rfi"]["npy"]
    mask = np.load(os.path.join(rfi_dir, r["file"]))
    nt, nb, nf, npol = mask.shape
    freqs = np.array(r["freq_hz"])
    diff = np.zeros(mask.shape, bool)
    for f in sorted(glob.glob(os.path.join(rfi_dir, "*_sb*.hdf5"))):
        with h5py.File(f) as a, h5py.File(os.path.join(clean_dir, os.path.basename(f))) as b:
            d = a["Data/visdata"][:] != b["Data/visdata"][:]  # [blt, spw, chan, pol]
            fr = a["Header/freq_array"][:].ravel()
        idx = np.abs(freqs[None, :] - fr[:, None]).argmin(axis=1)
        diff[:, :, idx, :] = d[:, 0].reshape(nt, nb, len(fr), npol)
    print(json.dumps({"mask": int(mask.sum()), "differ": int(diff.sum()), "equal": bool((mask == diff).all()), "shape": list(mask.shape)}))


def flag_hash(ms):
    tb = table(ms, ack=False)
    f = tb.getcol("FLAG")
    fr = tb.getcol("FLAG_ROW")
    tb.close()
    h = hashlib.sha256(np.ascontiguousarray(f).tobytes() + np.ascontiguousarray(fr).tobytes()).hexdigest()
    print(json.dumps({"sha256": h, "flagged": int(f.sum()), "flag_row": int(fr.sum()), "samples": int(f.size)}))


def pattern(tb):
    return np.arange(0, tb.nrows(), 7)


def preset(ms):
    tb = table(ms, readonly=False, ack=False)
    f = tb.getcol("FLAG")
    rows = pattern(tb)
    before = f[rows, 5:9, 0].sum()
    f[rows, 5:9, 0] = True
    tb.putcol("FLAG", f)
    tb.close()
    print(json.dumps({"set": int(len(rows) * 4 - before)}))


def preset_kept(ms):
    tb = table(ms, ack=False)
    f = tb.getcol("FLAG")
    rows = pattern(tb)
    tb.close()
    print(json.dumps({"unflagged": int((~f[rows, 5:9, 0]).sum()), "pattern": int(len(rows) * 4)}))


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "score":
        args = sys.argv[2:]
        edge = int(args[args.index("--edge-channels") + 1]) if "--edge-channels" in args else 0
        score(args[0], args[1], edge, "--no-quack" not in args)
    elif mode == "mask":
        mask_vs_data(sys.argv[2], sys.argv[3])
    elif mode == "hash":
        flag_hash(sys.argv[2])
    elif mode == "preset":
        preset(sys.argv[2])
    elif mode == "preset-kept":
        preset_kept(sys.argv[2])
    else:
        sys.exit(f"unknown mode {mode}")
