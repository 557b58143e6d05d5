"""CASA's side of benches/calib/chain.mjs: the stage 4–5 chain a CASA user runs on a calibrator
MS, in one process — flagdata (tfcrop, CASA's automatic RFI flagger), bandpass (solint inf,
solnorm), gaincal (p, inf), gaincal (p, 60 s), applycal (B nearest, G linear, calwt) — against
the MS's MODEL_DATA, refant by name, tables into OUTDIR. Writes in place (the caller passes a
fresh copy). Prints the wall time of each task as JSON.

  casa_chain.py MS OUTDIR REFANT
"""
import json
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'oracle'))
import casa_env  # noqa: E402


def main(ms, out, refant):
    t_start = time.time()
    casa_env.setup()
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    times = {}
    with casa_env.quiet_stdout():
        from casatasks import applycal, bandpass, flagdata, gaincal

        times['import'] = time.time() - t_start
        steps = [
            ('flagdata_tfcrop', lambda: flagdata(vis=ms, mode='tfcrop', flagbackup=False)),
            ('bandpass', lambda: bandpass(vis=ms, caltable=out + '/bp', solint='inf', combine='scan', refant=refant, solnorm=True, minsnr=3.0)),
            ('gaincal_inf', lambda: gaincal(vis=ms, caltable=out + '/gp', solint='inf', calmode='p', refant=refant, gaintable=[out + '/bp'], minsnr=3.0)),
            ('gaincal_60s', lambda: gaincal(vis=ms, caltable=out + '/g2', solint='60s', calmode='p', refant=refant, gaintable=[out + '/bp', out + '/gp'], minsnr=3.0)),
            ('applycal', lambda: applycal(vis=ms, gaintable=[out + '/bp', out + '/gp', out + '/g2'], interp=['nearest', 'linear', 'linear'], calwt=True, flagbackup=False)),
        ]
        for name, run in steps:
            t = time.time()
            run()
            times[name] = time.time() - t
    times['total'] = time.time() - t_start
    print(json.dumps(times))


if __name__ == '__main__':
    main(*sys.argv[1:])
