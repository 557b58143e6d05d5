"""Runs AegeanTools (BANE for the background and noise, then aegean) on an image, as the peer of
`contimg sources`. Usage: aegean_peer.py IMAGE.fits OUT_PREFIX [--cores 1]

Writes OUT_PREFIX_comp.csv (Aegean's component table) and prints JSON with the path, the
number of components and the seconds BANE and aegean took.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("image")
    ap.add_argument("out")
    ap.add_argument("--cores", type=int, default=1)
    a = ap.parse_args()
    bindir = os.path.dirname(sys.executable)
    with tempfile.TemporaryDirectory() as tmp:
        # BANE writes its maps beside the image: work on a copy.
        img = os.path.join(tmp, "image.fits")
        shutil.copy(a.image, img)
        t0 = time.perf_counter()
        subprocess.run([os.path.join(bindir, "BANE"), "--cores", str(a.cores), img], check=True, capture_output=True)
        t1 = time.perf_counter()
        subprocess.run([os.path.join(bindir, "aegean"), "--cores", str(a.cores), "--autoload", "--table", a.out + ".csv", img],
                       check=True, capture_output=True)
        t2 = time.perf_counter()
    comp = a.out + "_comp.csv"
    with open(comp) as f:
        n = sum(1 for _ in f) - 1
    json.dump({"catalog": comp, "components": n, "bane_s": t1 - t0, "aegean_s": t2 - t1}, sys.stdout)


if __name__ == "__main__":
    main()
