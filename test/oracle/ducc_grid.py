#!/usr/bin/env python3
"""Oracle for crates/grid: runs ducc0.wgridder on the inputs a Rust test wrote.

usage: ducc_grid.py DIR

DIR/cases.json is a list of cases {"name", "func": "vis2dirty"|"dirty2vis"|"ms2dirty",
"dtype": "f32"|"f64", "vis", "wgt", "mask", "dirty" (file names or null), and the keyword
parameters of ducc0.wgridder}; DIR holds uvw.npy and freq.npy. Writes DIR/<name>.out.npy.
"""
import json
import sys

import numpy as np
import ducc0

d = sys.argv[1]
uvw = np.load(f"{d}/uvw.npy")
freq = np.load(f"{d}/freq.npy")
for case in json.load(open(f"{d}/cases.json")):
    ld = lambda k: None if case.get(k) is None else np.load(f"{d}/{case[k]}")
    vis, wgt, mask, dirty = ld("vis"), ld("wgt"), ld("mask"), ld("dirty")
    kw = case["kw"]
    if case["func"] == "vis2dirty":
        out = ducc0.wgridder.vis2dirty(uvw=uvw, freq=freq, vis=vis, wgt=wgt, mask=mask, **kw)
    elif case["func"] == "dirty2vis":
        kw2 = {k: v for k, v in kw.items() if k not in ("npix_x", "npix_y")}
        out = ducc0.wgridder.dirty2vis(uvw=uvw, freq=freq, dirty=dirty, wgt=wgt, mask=mask, **kw2)
    elif case["func"] == "ms2dirty":
        out = ducc0.wgridder.ms2dirty(uvw, freq, vis, wgt, kw["npix_x"], kw["npix_y"], kw["pixsize_x"],
                                      kw["pixsize_y"], 0, 0, kw["epsilon"], kw["do_wgridding"],
                                      kw["nthreads"], 0, mask)
    else:
        raise ValueError(case["func"])
    np.save(f"{d}/{case['name']}.out.npy", out)
print(f"ducc0 {ducc0.__version__}: {len(json.load(open(f'{d}/cases.json')))} cases")
