"""CASA oracle for `contimg applycal` (test/calib/applycal*.test.ts).

  tables MS OUTDIR           CASA's bandpass (solint inf, solnorm) and gaincal (calmode ap,
                             solint 30 s, on top of B) on MS, written as OUTDIR/bp and OUTDIR/g;
                             MODEL_DATA absent, so CASA solves against a 1 Jy point source.
  apply MS OUT T1 [T2 …]     copies MS to OUT and runs casatasks.applycal(calwt=True,
                             interp nearest for B tables and linear for G tables) on it.
  compare OURS CASA          compares CORRECTED_DATA, FLAG, WEIGHT, WEIGHT_SPECTRUM, SIGMA of
                             two MS: max relative difference over samples unflagged in both.
  flag-solutions T N SEED    flags N random solutions (antenna, time) of caltable T in place.

Prints one JSON object on stdout.
"""
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import casa_env  # noqa: E402


def cmd_tables(ms, out):
    casa_env.setup()
    with casa_env.quiet_stdout():
        from casatasks import bandpass, gaincal

        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        bandpass(vis=ms, caltable=out + '/bp', solint='inf', combine='scan,field', refant='0', solnorm=True, minsnr=0)
        gaincal(vis=ms, caltable=out + '/g', solint='30s', calmode='ap', refant='0', gaintable=[out + '/bp'], minsnr=0)
    return {'bp': out + '/bp', 'g': out + '/g'}


def subtype(t):
    with open(os.path.join(t, 'table.info')) as f:
        for line in f:
            if line.startswith('SubType'):
                return line.split('=', 1)[1].strip()
    return ''


def cmd_apply(ms, out, tables):
    casa_env.setup()
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(ms, out)
    interp = ['nearest' if subtype(t) == 'B Jones' else 'linear' for t in tables]
    with casa_env.quiet_stdout():
        from casatasks import applycal

        applycal(vis=out, gaintable=list(tables), interp=interp, calwt=True, flagbackup=False)
    return {'ms': out, 'interp': interp}


def cmd_compare(ours, casa):
    import numpy as np
    from casacore.tables import table

    a = table(ours, ack=False)
    b = table(casa, ack=False)
    res = {'rows': a.nrows()}
    fa, fb = a.getcol('FLAG'), b.getcol('FLAG')
    res['flag_mismatch'] = int((fa != fb).sum())
    res['flagged_ours'] = int(fa.sum())
    res['flagged_casa'] = int(fb.sum())
    ok = ~fa & ~fb
    ca, cb = a.getcol('CORRECTED_DATA'), b.getcol('CORRECTED_DATA')
    den = np.maximum(np.abs(cb[ok]), 1e-30)
    res['corrected_max_rel'] = float((np.abs(ca[ok] - cb[ok]) / den).max()) if ok.any() else 0.0
    res['corrected_rms'] = float(np.sqrt(np.mean(np.abs(cb[ok]) ** 2))) if ok.any() else 0.0
    # Relative to the rms as well: a near-zero visibility makes a pointwise ratio meaningless.
    res['corrected_max_diff_over_rms'] = float(np.abs(ca[ok] - cb[ok]).max() / res['corrected_rms']) if ok.any() else 0.0
    for c in ['WEIGHT', 'SIGMA', 'WEIGHT_SPECTRUM']:
        if c in a.colnames() and c in b.colnames():
            wa, wb = a.getcol(c).astype(np.float64), b.getcol(c).astype(np.float64)
            m = ok if wa.shape == ok.shape else np.ones(wa.shape, bool)
            res[c.lower() + '_max_rel'] = float((np.abs(wa[m] - wb[m]) / np.maximum(np.abs(wb[m]), 1e-30)).max())
    res['data_equal'] = bool(np.array_equal(a.getcol('DATA'), b.getcol('DATA')))
    return res


def cmd_flag_solutions(t, n, seed):
    import numpy as np
    from casacore.tables import table

    tb = table(t, readonly=False, ack=False)
    rng = np.random.default_rng(int(seed))
    f = tb.getcol('FLAG')
    live = np.where(~f.all(axis=(1, 2)))[0]
    pick = rng.choice(live, size=int(n), replace=False)
    for r in pick:
        f[r] = True
    tb.putcol('FLAG', f)
    tb.close()
    return {'flagged_rows': sorted(int(r) for r in pick)}


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == 'tables':
        out = cmd_tables(*args)
    elif cmd == 'apply':
        out = cmd_apply(args[0], args[1], args[2:])
    elif cmd == 'compare':
        out = cmd_compare(*args)
    elif cmd == 'flag-solutions':
        out = cmd_flag_solutions(*args)
    else:
        raise SystemExit(f'unknown command {cmd}')
    print(json.dumps(out))


if __name__ == '__main__':
    main()
