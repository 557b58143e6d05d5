#!/usr/bin/env python3
"""ducc0 side of benches/grid: times ducc0.wgridder on the visibilities that the Rust side
wrote (uvw.npy, freq.npy, vis.npy, model.npy in --dir), prints JSON on stdout and saves its
dirty image (dirty_ducc.npy) for the accuracy comparison."""
import argparse
import json
import sys
import time

import numpy as np
import ducc0

ap = argparse.ArgumentParser()
ap.add_argument("--dir", required=True)
ap.add_argument("--threads", default="1")
ap.add_argument("--reps", type=int, default=2)
ap.add_argument("--npix", type=int, default=4096)
ap.add_argument("--pix", type=float, required=True)
ap.add_argument("--eps", type=float, default=1e-4)
ap.add_argument("--no-degrid", action="store_true")
a = ap.parse_args()

uvw = np.load(f"{a.dir}/uvw.npy")
freq = np.load(f"{a.dir}/freq.npy")
vis = np.load(f"{a.dir}/vis.npy")
model = np.load(f"{a.dir}/model.npy")
out = {"version": ducc0.__version__}
for nt in [int(t) for t in a.threads.split(",")]:
    kw = dict(uvw=uvw, freq=freq, pixsize_x=a.pix, pixsize_y=a.pix,
              epsilon=a.eps, do_wgridding=True, nthreads=nt, verbosity=0)
    t_g, t_d = [], []
    for _ in range(a.reps):
        t0 = time.perf_counter()
        dirty = ducc0.wgridder.vis2dirty(vis=vis, npix_x=a.npix, npix_y=a.npix, **kw)
        t_g.append(time.perf_counter() - t0)
        if not a.no_degrid:
            t0 = time.perf_counter()
            v = ducc0.wgridder.dirty2vis(dirty=model, **kw)
            t_d.append(time.perf_counter() - t0)
            del v
        print(f"ducc0 nthreads={nt}: vis2dirty {t_g[-1]:.2f}s" + (f", dirty2vis {t_d[-1]:.2f}s" if t_d else ""), file=sys.stderr)
    np.save(f"{a.dir}/dirty_ducc.npy", dirty.astype(np.float32))
    out[str(nt)] = {"ms2dirty_s": [min(t_g), max(t_g)],
                    "dirty2ms_s": [min(t_d), max(t_d)] if t_d else None,
                    "vis_per_s_per_core": vis.size / min(t_g) / nt}
print(json.dumps(out))
