"""CASA oracle for `contimg calibrate` (test/calib/calibrate.test.ts).

  solve MS OUTDIR REFANT MINSNR
      CASA's bandpass (solint inf, combine scan, solnorm) then gaincal (calmode p, solint inf,
      gaintable bp) then gaincal (calmode p, solint 60s, gaintable bp, gp) on MS, against its
      MODEL_DATA (written by `calibrate --write-model`), refant by name; OUTDIR/{bp,gp,g2}.
  compare OURS CASA
      Two caltables row by row, matched by (TIME within 1 s, SPECTRAL_WINDOW_ID, ANTENNA1):
      max phase difference (deg) and max relative amplitude difference over solutions
      unflagged in both, and the number of solutions flagged in one only.
  open T
      Opens T with casatools.table: table info, keywords, columns, subtables, rows.

Prints one JSON object on stdout.
"""
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import casa_env  # noqa: E402


def cmd_solve(ms, out, refant, minsnr):
    casa_env.setup()
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    minsnr = float(minsnr)
    with casa_env.quiet_stdout():
        from casatasks import bandpass, gaincal

        bandpass(vis=ms, caltable=out + '/bp', solint='inf', combine='scan', refant=refant, solnorm=True, minsnr=minsnr)
        gaincal(vis=ms, caltable=out + '/gp', solint='inf', calmode='p', refant=refant, gaintable=[out + '/bp'], minsnr=minsnr)
        gaincal(vis=ms, caltable=out + '/g2', solint='60s', calmode='p', refant=refant, gaintable=[out + '/bp', out + '/gp'], minsnr=minsnr)
    return {'bp': out + '/bp', 'gp': out + '/gp', 'g2': out + '/g2'}


def cmd_compare(ours, casa):
    import numpy as np
    from casacore.tables import table

    a, b = table(ours, ack=False), table(casa, ack=False)
    key = lambda t, r: (t.getcell('SPECTRAL_WINDOW_ID', r), t.getcell('ANTENNA1', r))
    rows_b = {}
    for r in range(b.nrows()):
        rows_b.setdefault(key(b, r), []).append((b.getcell('TIME', r), r))
    dph, damp, mismatch, compared, unmatched = 0.0, 0.0, 0, 0, 0
    for r in range(a.nrows()):
        cand = [x for x in rows_b.get(key(a, r), []) if abs(x[0] - a.getcell('TIME', r)) < 1.0]
        if not cand:
            unmatched += 1
            continue
        rb = cand[0][1]
        ca, cb = a.getcell('CPARAM', r), b.getcell('CPARAM', rb)
        fa, fb = a.getcell('FLAG', r), b.getcell('FLAG', rb)
        mismatch += int((fa != fb).sum())
        ok = ~(fa | fb)
        if ok.any():
            compared += int(ok.sum())
            dph = max(dph, float(np.abs(np.angle(ca[ok] * np.conj(cb[ok]), deg=True)).max()))
            damp = max(damp, float((np.abs(np.abs(ca[ok]) / np.abs(cb[ok]) - 1)).max()))
    return {'phase_max_deg': dph, 'amp_max_rel': damp, 'flag_mismatch': mismatch, 'compared': compared, 'unmatched': unmatched, 'rows_ours': a.nrows(), 'rows_casa': b.nrows()}


def cmd_open(t):
    casa_env.setup()
    with casa_env.quiet_stdout():
        from casatools import table

        tb = table()
        tb.open(t)
        info = tb.info()
        kw = tb.getkeywords()
        out = {
            'type': info.get('type'),
            'subType': info.get('subType'),
            'keywords': {k: v for k, v in kw.items() if isinstance(v, str)},
            'subtables': sorted(k for k, v in kw.items() if isinstance(v, str) and v.startswith('Table:')),
            'columns': tb.colnames(),
            'rows': tb.nrows(),
            'cparam_shape': list(tb.getcell('CPARAM', 0).shape),
        }
        tb.close()
    return out


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == 'solve':
        out = cmd_solve(*args)
    elif cmd == 'compare':
        out = cmd_compare(*args)
    elif cmd == 'open':
        out = cmd_open(*args)
    else:
        raise SystemExit(f'unknown command {cmd}')
    print(json.dumps(out))


if __name__ == '__main__':
    main()
