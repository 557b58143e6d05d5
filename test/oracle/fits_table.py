"""Reads a FITS binary table with astropy. Usage: fits_table.py TABLE.fits
Prints JSON: the extension name, column names and units, row count, and every row."""
import json
import sys

from astropy.table import Table

t = Table.read(sys.argv[1], hdu=1)
json.dump({
    "extname": t.meta.get("EXTNAME"),
    "columns": t.colnames,
    "units": {c: (str(t[c].unit) if t[c].unit is not None else "") for c in t.colnames},
    "rows": [{c: (v.item() if hasattr(v, "item") else v) for c, v in zip(t.colnames, row)} for row in t],
    "meta": {k: v for k, v in t.meta.items() if isinstance(v, (int, float, str))},
}, sys.stdout)
