"""CASA 6 (casatools, casatasks) for the test oracles, offline and without side effects.

CASA reads ~/.casa/config.py when casatools is first imported, and by default wants to download
its measures data. Here HOME is a throwaway directory whose config points CASA at the measures
the pinned `casadata` package ships, with every automatic update and the log file off. CASA also
prints to stdout from C++; `quiet_stdout()` sends file descriptor 1 to stderr while it runs, so
that the JSON an oracle prints is all that stdout carries.
"""
import atexit
import contextlib
import os
import shutil
import sys
import tempfile


def setup():
    import casadata

    home = tempfile.mkdtemp(prefix="contimg-casa-home-")
    os.makedirs(os.path.join(home, ".casa"))
    with open(os.path.join(home, ".casa", "config.py"), "w") as f:
        f.write(
            f"measurespath = {casadata.datapath!r}\n"
            "measures_auto_update = False\n"
            "data_auto_update = False\n"
            "nologfile = True\n"
            # casatasks still opens casa-<time>.log in the working directory unless told where.
            f"logfile = {os.path.join(home, 'casa.log')!r}\n"
            "log2term = False\n"
        )
    os.environ["HOME"] = home
    atexit.register(shutil.rmtree, home, True)


@contextlib.contextmanager
def quiet_stdout():
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
