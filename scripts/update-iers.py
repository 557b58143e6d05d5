"""Regenerates data/iers/eop.csv from astropy's IERS_Auto table.

contimg must reproduce pyuvdata's astrometry to ~0.03 mas, which needs exactly the Earth
orientation values astropy uses: the bundled finals2000A.all (IERS Bulletin A) with the EOP C04
(Bulletin B) values substituted where they exist. Run with the oracle virtualenv after
`pip install -U astropy-iers-data`:

    .venv/bin/python scripts/update-iers.py > data/iers/eop.csv
"""
import astropy
import astropy_iers_data
from astropy.utils import iers

FIRST_MJD = 51544.0  # 2000-01-01: older data are outside the pipeline's scope

tab = iers.earth_orientation_table.get()
print(f"# astropy IERS_Auto combined table (astropy {astropy.__version__}, astropy-iers-data "
      f"{astropy_iers_data.__version__}): EOP C04 (B) where available, else Bulletin A observed (I) "
      "or predicted (P)")
print("# mjd,ut1_utc_s,pm_x_arcsec,pm_y_arcsec,flag")
for row in tab:
    mjd = float(row["MJD"].value)
    if mjd < FIRST_MJD:
        continue
    print(f"{mjd:.1f},{float(row['UT1_UTC'].value)!r},{float(row['PM_x'].value)!r},{float(row['PM_y'].value)!r},{row['UT1Flag']}")
