#!/usr/bin/env python3
"""Open a MeasurementSet with python-casacore and print a JSON summary of it.

Usage: check_ms.py PATH

The summary holds: MS_VERSION; MAIN's row count, columns (type, shape, data manager) and the
keywords of TIME, UVW and DATA; the shape of DATA; and, for every subtable, its row count,
columns and the MEASINFO/QuantumUnits keywords of its columns. It is the independent check that
what contimg's Rust writer produced is a table casacore itself reads as we intend.

Exit status: 0 when MAIN and every subtable opened, 1 otherwise (the JSON says which failed).
"""

import json
import sys

import numpy as np
from casacore import tables

SUBTABLES = [
    "ANTENNA",
    "DATA_DESCRIPTION",
    "FEED",
    "FIELD",
    "FLAG_CMD",
    "HISTORY",
    "OBSERVATION",
    "POINTING",
    "POLARIZATION",
    "PROCESSOR",
    "SPECTRAL_WINDOW",
    "STATE",
    "SOURCE",
]


def plain(v):
    """Make casacore keyword values JSON-friendly."""
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, np.ndarray):
        return plain(v.tolist())
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, np.complexfloating):
        return [float(v.real), float(v.imag)]
    if isinstance(v, bytes):
        return v.decode(errors="replace")
    return v


def column_summary(t, col, dminfo_by_col):
    desc = t.getcoldesc(col)
    out = {"valuetype": desc.get("valueType")}
    if "shape" in desc:
        out["shape"] = plain(desc["shape"])
    if "ndim" in desc:
        out["ndim"] = desc["ndim"]
    if col in dminfo_by_col:
        out["dataManager"] = dminfo_by_col[col]
    kw = t.getcolkeywords(col)
    if kw:
        out["keywords"] = plain(kw)
    return out


def dm_map(t):
    m = {}
    for dm in t.getdminfo().values():
        for c in dm.get("COLUMNS", []):
            entry = {"type": dm["TYPE"], "name": dm["NAME"]}
            spec = dm.get("SPEC", {})
            if "DEFAULTTILESHAPE" in spec:
                entry["tileShape"] = plain(spec["DEFAULTTILESHAPE"])
            m[c] = entry
    return m


def main(path):
    summary = {"path": path, "ok": True, "errors": []}
    try:
        ms = tables.table(path, ack=False)
    except Exception as e:  # noqa: BLE001 -- report anything casacore raises
        summary["ok"] = False
        summary["errors"].append(f"MAIN: {e}")
        print(json.dumps(summary, indent=1))
        return 1

    kw = ms.getkeywords()
    summary["MS_VERSION"] = plain(kw.get("MS_VERSION"))
    dms = dm_map(ms)
    cols = ms.colnames()
    summary["main"] = {
        "nrows": ms.nrows(),
        "columns": {c: column_summary(ms, c, dms) for c in cols},
    }
    for c in ("TIME", "UVW", "DATA"):
        summary["main"][f"{c}_keywords"] = plain(ms.getcolkeywords(c)) if c in cols else None
    if "DATA" in cols and ms.nrows() > 0:
        summary["main"]["DATA_shape"] = list(ms.getcell("DATA", 0).shape)
        summary["main"]["DATA_dtype"] = str(ms.getcell("DATA", 0).dtype)

    subs = {}
    for name in SUBTABLES:
        if name not in kw:
            summary["ok"] = False
            summary["errors"].append(f"missing subtable keyword {name}")
            continue
        try:
            st = tables.table(f"{path}/{name}", ack=False)
            sdm = dm_map(st)
            info = {"nrows": st.nrows(), "columns": st.colnames()}
            measures = {}
            for c in st.colnames():
                ckw = st.getcolkeywords(c)
                sel = {k: plain(ckw[k]) for k in ("MEASINFO", "QuantumUnits") if k in ckw}
                if sel:
                    measures[c] = sel
            info["measures"] = measures
            # Read every column fully: catches undefined cells and bad shapes.
            for c in st.colnames():
                if st.nrows() > 0 and st.iscelldefined(c, 0):
                    try:
                        st.getcol(c)
                    except Exception:  # noqa: BLE001 -- variable shapes: read cell by cell
                        for r in range(st.nrows()):
                            st.getcell(c, r)
            info["dataManagers"] = sorted({d["type"] for d in sdm.values()})
            subs[name] = info
            st.close()
        except Exception as e:  # noqa: BLE001
            summary["ok"] = False
            summary["errors"].append(f"{name}: {e}")
    summary["subtables"] = subs
    summary["subtable_nrows"] = {k: v["nrows"] for k, v in subs.items()}
    ms.close()
    print(json.dumps(summary, indent=1))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
