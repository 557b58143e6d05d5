"""Truth oracle for `contimg calibrate` (test/calib/calibrate.test.ts).

  compare BP GP G2 TRUTH_JSON
      Our three caltables against the simulator's gains (<group>.gains.npy, CASA convention
      DATA = g[ANTENNA1] conj(g[ANTENNA2]) model). The product P = B(ν)·G·G60(t) of every
      unflagged antenna, polarisation, channel and integration (G60: the solution whose interval
      holds the integration) is divided by the truth T: r = P / T.
      - phase: the phase of r_a · conj(r_ref) (the reference antenna's phase removed), in
        degrees; rms and max over every antenna but the reference, channel, integration, pol.
      - amplitude: solnorm and phase-only G leave each antenna's and polarisation's overall
        amplitude free, so |r| is divided by its mean over channels and integrations per
        antenna and polarisation; rms and max of (that − 1).

  tables T1 [T2 ...]
      Opens each caltable with python-casacore: rows, table info subType, ANTENNA2 values,
      subtables, and whether every CPARAM cell is readable (a partial table fails here).

Prints one JSON object on stdout.
"""
import json
import os
import sys

import numpy as np
from casacore.tables import table


def load(path):
    t = table(path, ack=False)
    out = {
        'time': t.getcol('TIME'),
        'ant': t.getcol('ANTENNA1'),
        'ref': t.getcol('ANTENNA2'),
        'cparam': t.getcol('CPARAM'),  # [row, chan, pol]
        'flag': t.getcol('FLAG'),
    }
    t.close()
    return out


def cmd_compare(bp_path, gp_path, g2_path, truth_path):
    truth = json.load(open(truth_path))
    npy = truth['gains']['npy']
    cube = np.load(os.path.join(os.path.dirname(truth_path), npy['file']))  # [ant, time, freq, pol]
    times = np.array(npy['time_mjd_s'])
    bp, gp, g2 = load(bp_path), load(gp_path), load(g2_path)
    refrow = int(bp['ref'][0])
    g2_times = np.unique(g2['time'])
    entries = {e['ms_antenna_row']: e['index'] for e in npy['antennas']}
    if refrow not in entries:
        raise SystemExit(f'reference antenna row {refrow} is not simulated')

    def product(row):
        ib = np.where(bp['ant'] == row)[0]
        ig = np.where(gp['ant'] == row)[0]
        if len(ib) != 1 or len(ig) != 1:
            raise SystemExit(f'antenna row {row}: {len(ib)} B rows, {len(ig)} G rows')
        b, bf = bp['cparam'][ib[0]], bp['flag'][ib[0]]  # [chan, pol]
        g, gf = gp['cparam'][ig[0], 0], gp['flag'][ig[0], 0]  # [pol]
        p = np.empty((len(times),) + b.shape, complex)
        f = np.empty(p.shape, bool)
        for k, t in enumerate(times):
            tsol = g2_times[np.argmin(np.abs(g2_times - t))]
            i2 = np.where((g2['ant'] == row) & (g2['time'] == tsol))[0][0]
            p[k] = b * g[None, :] * g2['cparam'][i2, 0][None, :]
            f[k] = bf | gf[None, :] | g2['flag'][i2, 0][None, :]
        return p, f  # [time, chan, pol]

    p_ref, f_ref = product(refrow)
    r_ref = p_ref / cube[entries[refrow]]
    phases, amps = [], []
    n_ant = 0
    for row, idx in entries.items():
        if row == refrow:
            continue
        p, f = product(row)
        if f.all():
            continue
        n_ant += 1
        r = p / cube[idx]
        ok = ~(f | f_ref)
        ph = np.angle(r * np.conj(r_ref) / np.abs(r_ref), deg=True)
        phases.append(ph[ok])
        a = np.abs(r)
        for pol in range(a.shape[2]):
            okp = ~f[:, :, pol]
            if okp.any():
                amps.append(a[:, :, pol][okp] / a[:, :, pol][okp].mean() - 1)
    ph = np.concatenate(phases)
    am = np.concatenate(amps)
    return {
        'antennas': n_ant,
        'samples': int(ph.size),
        'phase_rms_deg': float(np.sqrt(np.mean(ph ** 2))),
        'phase_max_deg': float(np.abs(ph).max()),
        'amp_rms': float(np.sqrt(np.mean(am ** 2))),
        'amp_max': float(np.abs(am).max()),
        'refant_row': refrow,
    }


def cmd_tables(paths):
    out = []
    for p in paths:
        t = table(p, ack=False)
        cp = t.getcol('CPARAM')
        out.append({
            'path': p,
            'rows': t.nrows(),
            'subType': t.info()['subType'],
            'antenna2': sorted(set(int(x) for x in t.getcol('ANTENNA2'))),
            'subtables': sorted(k for k, v in t.getkeywords().items() if isinstance(v, str) and v.startswith('Table:')),
            'finite': bool(np.isfinite(cp).all()),
            'flagged': int(t.getcol('FLAG').sum()),
        })
        t.close()
    return out


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == 'compare':
        out = cmd_compare(*args)
    elif cmd == 'tables':
        out = cmd_tables(args)
    else:
        raise SystemExit(f'unknown command {cmd}')
    print(json.dumps(out))


if __name__ == '__main__':
    main()
