"""CASA oracle for `contimg applycal` (test/calib/applycal*.test.ts).

  tables MS OUTDIR           CASA's bandpass (solint inf, solnorm) and gaincal (calmode ap,
                             solint 30 s, on top of B) on MS, written as OUTDIR/bp and OUTDIR/g;
                             MODEL_DATA absent, so CASA solves against a 1 Jy point source.
  apply MS OUT T1 [T2 …]     copies MS to OUT and runs casatasks.applycal(calwt=True,
                             interp nearest for B tables and linear for G tables) on it.
  compare OURS CASA          compares CORRECTED_DATA, FLAG, WEIGHT, WEIGHT_SPECTRUM, SIGMA of
                             two MS: max relative difference over samples unflagged in both.
  flag-solutions T N SEED    flags N random solutions (antenna, time) of caltable T in place;
                             N = pattern: the 2nd and last solutions of every other antenna.
  truth-tables MS TRUTH TPL OUT
                             B and G tables holding the simulator's true gains (truth.json:
                             g = B(ν)·G(t), B the frequency part, G = (1 + ad·Δt)·exp(i pd·Δt)),
                             written over copies of the CASA-made tables TPL/bp and TPL/g; G
                             has 4 solutions spanning the MS, so linear interpolation is exact.
  model-diff OURS MODEL_MS   max |CORRECTED_DATA − MODEL_MS.DATA| / rms(MODEL_MS.DATA), unflagged.
  break TABLE KIND OUT       a copy of TABLE made wrong: KIND freq (channels shifted by 1 MHz)
                             or antennas (ANTENNA subtable cut to 100 rows).

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
    f = tb.getcol('FLAG')
    live = np.where(~f.all(axis=(1, 2)))[0]
    if n == 'pattern':
        # Every other antenna loses its 2nd and its last solution: data at (float-)exactly a
        # solution's time next to a flagged one, where CASA's exact-match rule decides.
        t, ant = tb.getcol('TIME'), tb.getcol('ANTENNA1')
        pick = []
        for a in sorted(set(ant[live]))[::2]:
            rows = sorted(live[ant[live] == a], key=lambda r: t[r])
            pick += [rows[1], rows[-1]]
    else:
        rng = np.random.default_rng(int(seed))
        pick = rng.choice(live, size=int(n), replace=False)
    for r in pick:
        f[r] = True
    tb.putcol('FLAG', f)
    tb.close()
    return {'flagged_rows': sorted(int(r) for r in pick)}


def check_against_npy(truth_path, gains, bpass, drift, epoch_jd):
    """The formula this oracle evaluates must be the one the simulator applied: compare it
    with <group>.gains.npy, the simulator's own cube, at a few antennas."""
    import numpy as np

    npy = gains.get('npy')
    if not npy:
        return
    cube = np.load(os.path.join(os.path.dirname(truth_path), npy['file']))
    band = gains['band_coordinate']
    x = (np.array(npy['freq_hz']) - band['freq_mid_hz']) / band['freq_span_hz']
    t_h = (np.array(npy['times_jd']) - epoch_jd) * 24.0
    params = {a['antenna']: a for a in gains['antennas']}
    for entry in npy['antennas'][:: max(1, len(npy['antennas']) // 7)]:
        p = params[entry['antenna']]
        for k, pol in enumerate(['xx', 'yy']):
            want = drift(p[pol], t_h)[:, None] * bpass(p[pol], x)[None, :]
            got = cube[entry['index'], :, :, k]
            err = np.abs(got - want).max() / np.abs(want).max()
            if err > 1e-5:
                raise SystemExit(f'gain formula disagrees with {npy["file"]} at antenna {entry["antenna"]} {pol}: {err:.2e}')


def cmd_truth_tables(ms, truth_path, tpl, out):
    import numpy as np
    from casacore.tables import table

    truth = json.load(open(truth_path))
    gains = truth['gains']
    band = gains['band_coordinate']
    epoch_jd = gains['epoch_jd']
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    shutil.copytree(tpl + '/bp', out + '/bp')
    shutil.copytree(tpl + '/g', out + '/g')
    params = {a['antenna']: a for a in gains['antennas']}
    pols = ['xx', 'yy']

    def bpass(p, x):
        return p['a0'] * (1 + p['a1'] * x + p['a2'] * x * x) * np.exp(1j * (p['p0'] + p['p1'] * x + p['p2'] * x * x))

    def drift(p, t_h):
        # The simulator's slow drift (crates/sim/src/gains.rs MODEL), in hours since epoch_jd.
        amp = 1 + p['ad'] * np.sin(2 * np.pi * t_h / p['ta_h'] + p['phia'])
        return amp * np.exp(1j * p['pd'] * np.sin(2 * np.pi * t_h / p['tp_h'] + p['phip']))

    # B: one solution per antenna at the channel frequencies of the MS's (first) spw, so the
    # template may come from another MS of the same band.
    mspw = table(ms + '/SPECTRAL_WINDOW', ack=False)
    freq = mspw.getcell('CHAN_FREQ', 0)
    spw = table(out + '/bp/SPECTRAL_WINDOW', readonly=False, ack=False)
    if spw.getcell('NUM_CHAN', 0) != len(freq) or not np.allclose(spw.getcell('CHAN_FREQ', 0), freq):
        for col in ['CHAN_FREQ', 'CHAN_WIDTH', 'EFFECTIVE_BW', 'RESOLUTION']:
            spw.putcell(col, 0, mspw.getcell(col, 0))
        for col in ['NUM_CHAN', 'REF_FREQUENCY', 'TOTAL_BANDWIDTH']:
            spw.putcell(col, 0, mspw.getcell(col, 0))
    spw.close()
    x = (freq - band['freq_mid_hz']) / band['freq_span_hz']
    check_against_npy(truth_path, gains, bpass, drift, epoch_jd)
    bp = table(out + '/bp', readonly=False, ack=False)
    nrow, nchan = bp.nrows(), len(freq)
    c = np.ones((nrow, nchan, 2), np.complex64)
    f = np.ones((nrow, nchan, 2), bool)
    for r, a in enumerate(bp.getcol('ANTENNA1')):
        if a in params:
            for k, pol in enumerate(pols):
                c[r, :, k] = bpass(params[a][pol], x)
            f[r] = False
    for r in range(nrow):
        bp.putcell('CPARAM', r, c[r])
        bp.putcell('FLAG', r, f[r])
        bp.putcell('PARAMERR', r, np.zeros((nchan, 2), np.float32))
        bp.putcell('SNR', r, np.ones((nchan, 2), np.float32))
        bp.putcell('WEIGHT', r, np.ones((nchan, 2), np.float32))
    bp.close()

    # G: one solution per antenna at every integration. The drift is a sinusoid, so solutions
    # between integrations would leave an interpolation error; at the integrations themselves
    # any interpolation returns the solution exactly.
    times = np.unique(table(ms, ack=False).getcol('TIME'))
    g = table(out + '/g', readonly=False, ack=False)
    ants = sorted(set(int(a) for a in g.getcol('ANTENNA1')))
    g.removerows(list(range(g.nrows())))
    n = len(ants) * len(times)
    g.addrows(n)
    tcol, acol, cp, fl = [], [], np.zeros((n, 1, 2), np.complex64), np.ones((n, 1, 2), bool)
    r = 0
    for t in times:
        t_h = (t / 86400.0 + 2400000.5 - epoch_jd) * 24.0
        for a in ants:
            tcol.append(t)
            acol.append(a)
            if a in params:
                for k, pol in enumerate(pols):
                    cp[r, 0, k] = drift(params[a][pol], t_h)
                fl[r] = False
            r += 1
    g.putcol('TIME', np.array(tcol))
    g.putcol('ANTENNA1', np.array(acol, np.int32))
    g.putcol('ANTENNA2', np.zeros(n, np.int32))
    for col, v in [('FIELD_ID', 0), ('SPECTRAL_WINDOW_ID', 0), ('SCAN_NUMBER', 1), ('OBSERVATION_ID', 0)]:
        g.putcol(col, np.full(n, v, np.int32))
    g.putcol('INTERVAL', np.zeros(n))
    g.putcol('CPARAM', cp)
    g.putcol('FLAG', fl)
    g.putcol('PARAMERR', np.zeros((n, 1, 2), np.float32))
    g.putcol('SNR', np.ones((n, 1, 2), np.float32))
    g.putcol('WEIGHT', np.ones((n, 1, 2), np.float32))
    g.close()
    return {'bp': out + '/bp', 'g': out + '/g', 'g_times': times.tolist()}


def cmd_model_diff(ours, model_ms):
    import numpy as np
    from casacore.tables import table

    a = table(ours, ack=False)
    m = table(model_ms, ack=False)
    ca, fa = a.getcol('CORRECTED_DATA'), a.getcol('FLAG')
    dm = m.getcol('DATA')
    cross = a.getcol('ANTENNA1') != a.getcol('ANTENNA2')
    ok = ~fa & cross[:, None, None]
    rms = float(np.sqrt(np.mean(np.abs(dm[ok]) ** 2)))
    raw = a.getcol('DATA')
    return {
        'max_diff_over_rms': float(np.abs(ca[ok] - dm[ok]).max() / rms),
        'raw_max_diff_over_rms': float(np.abs(raw[ok] - dm[ok]).max() / rms),
        'unflagged': int(ok.sum()),
    }


def cmd_break(t, kind, out):
    import numpy as np
    from casacore.tables import table

    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(t, out)
    if kind == 'freq':
        s = table(out + '/SPECTRAL_WINDOW', readonly=False, ack=False)
        s.putcell('CHAN_FREQ', 0, s.getcell('CHAN_FREQ', 0) + 1e6)
        s.close()
    elif kind == 'antennas':
        a = table(out + '/ANTENNA', readonly=False, ack=False)
        a.removerows(list(range(100, a.nrows())))
        a.close()
    return {'table': out}


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == 'tables':
        out = cmd_tables(*args)
    elif cmd == 'apply':
        out = cmd_apply(args[0], args[1], args[2:])
    elif cmd == 'compare':
        out = cmd_compare(*args)
    elif cmd == 'truth-tables':
        out = cmd_truth_tables(*args)
    elif cmd == 'model-diff':
        out = cmd_model_diff(*args)
    elif cmd == 'break':
        out = cmd_break(*args)
    elif cmd == 'flag-solutions':
        out = cmd_flag_solutions(*args)
    else:
        raise SystemExit(f'unknown command {cmd}')
    print(json.dumps(out))


if __name__ == '__main__':
    main()
