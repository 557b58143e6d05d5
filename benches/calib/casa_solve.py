"""CASA's side of benches/calib/run.sh: bandpass (solint inf, solnorm) + gaincal (p, inf) +
gaincal (p, 60 s) on MS against its MODEL_DATA, refant by name, into OUTDIR; prints the wall
time of each task as JSON.

  casa_solve.py MS OUTDIR REFANT
"""
import json
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'oracle'))
import casa_env  # noqa: E402


def main(ms, out, refant):
    casa_env.setup()
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    times = {}
    with casa_env.quiet_stdout():
        from casatasks import bandpass, gaincal

        t = time.time()
        bandpass(vis=ms, caltable=out + '/bp', solint='inf', combine='scan', refant=refant, solnorm=True, minsnr=3.0)
        times['bandpass'] = time.time() - t
        t = time.time()
        gaincal(vis=ms, caltable=out + '/gp', solint='inf', calmode='p', refant=refant, gaintable=[out + '/bp'], minsnr=3.0)
        times['gaincal_inf'] = time.time() - t
        t = time.time()
        gaincal(vis=ms, caltable=out + '/g2', solint='60s', calmode='p', refant=refant, gaintable=[out + '/bp', out + '/gp'], minsnr=3.0)
        times['gaincal_60s'] = time.time() - t
    times['total'] = sum(times.values())
    print(json.dumps(times))


if __name__ == '__main__':
    main(*sys.argv[1:])
