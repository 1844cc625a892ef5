"""Time of ``--resume`` against a full rerun after a kill halfway through the
demo's exposure branch (config_exp.ini), and whether the outputs agree.

    .venv/bin/python benchmarks/bench_resume.py

Simulates the demo field, runs config_prepare.ini, times a full run of
config_exp.ini, then starts it again, sends SIGTERM to its process group at
half that time (as a batch system does at the wall-time limit), and times
``shapepipe_run -c config_exp.ini --resume``. ShapePipe has no resume: after
such a kill its only way on is the full rerun. The outputs of the resumed run
are compared with the full run's, FITS files value by value (except the
``DATE`` keyword and Source Extractor's ``LDAC_IMHEAD`` text, which hold the
time of the run).
"""

import os
import signal
import subprocess
import sys
import tempfile
import time

from astropy.io import fits

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simulated_field import BIN, GOLD, run_configs, simulate  # noqa: E402

CONFIG = os.path.join(GOLD, 'config_exp.ini')
FITS_EXT = ('.fits', '.psf', '.cat', '.fz')


def exposure_runs(sp_run):
    output = os.path.join(sp_run, 'output')
    return sorted(os.path.join(output, d) for d in os.listdir(output) if d.startswith('run_sp_exp'))


def timed_run(args, env, cwd):
    start = time.monotonic()
    proc = subprocess.run([os.path.join(BIN, 'shapepipe_run')] + args, env=env, cwd=cwd,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return time.monotonic() - start, proc.returncode


def module_outputs(run_dir):
    """``{module/relative path: full path}`` of every output file of a run."""
    files = {}
    for module in sorted(os.listdir(run_dir)):
        output = os.path.join(run_dir, module, 'output')
        for root, _, names in os.walk(output):
            for name in names:
                path = os.path.join(root, name)
                files[os.path.join(module, os.path.relpath(path, output))] = path
    return files


def same_file(a, b):
    if a.endswith(FITS_EXT):
        # LDAC_IMHEAD holds Source Extractor's header text, with its run time.
        return fits.FITSDiff(a, b, ignore_keywords=['DATE'], ignore_hdus=['LDAC_IMHEAD']).identical
    if a.endswith('.png'):   # plots carry no science; their bytes may hold a date
        return True
    with open(a, 'rb') as fa, open(b, 'rb') as fb:
        return fa.read() == fb.read()


def main():
    sp_run = tempfile.mkdtemp(prefix='bench_resume_')
    env = simulate(sp_run)
    run_configs(sp_run, env, ('config_prepare.ini',))

    full_time, code = timed_run(['-c', CONFIG], env, sp_run)
    assert code == 0, f'full run failed ({code})'
    full_dir = exposure_runs(sp_run)[-1]
    time.sleep(1.1)   # a new run-directory name

    proc = subprocess.Popen([os.path.join(BIN, 'shapepipe_run'), '-c', CONFIG], env=env,
                            cwd=sp_run, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    time.sleep(full_time / 2)
    os.killpg(proc.pid, signal.SIGTERM)
    _, stderr = proc.communicate()
    killed_dir = exposure_runs(sp_run)[-1]
    done = [m for m in sorted(os.listdir(killed_dir))
            if os.path.isfile(os.path.join(killed_dir, m, 'status'))
            and '"complete"' in open(os.path.join(killed_dir, m, 'status')).read()]
    print(f'killed with SIGTERM at {full_time / 2:.1f} s: exit {proc.returncode}; '
          f'complete module runs: {", ".join(done) or "none"}')
    print(f'  stderr: {stderr.strip()}')

    resume_time, code = timed_run(['-c', CONFIG, '--resume'], env, sp_run)
    assert code == 0, f'resumed run failed ({code})'
    assert exposure_runs(sp_run)[-1] == killed_dir

    full_files, resumed_files = module_outputs(full_dir), module_outputs(killed_dir)
    differ = [name for name in full_files
              if name not in resumed_files or not same_file(full_files[name], resumed_files[name])]
    extra = sorted(set(resumed_files) - set(full_files))
    print(f'full run of config_exp.ini:       {full_time:6.1f} s')
    print(f'--resume after the kill:          {resume_time:6.1f} s '
          f'({resume_time / full_time:.0%} of a full rerun)')
    print('ShapePipe: no resume; after a kill it reruns everything (the full time)')
    print(f'outputs: {len(full_files)} files in the full run, {len(differ)} differ or miss in '
          f'the resumed run, {len(extra)} extra' + (f': {differ[:5]} {extra[:5]}'
                                                    if differ or extra else ''))
    print(f'(run directory: {sp_run})')


if __name__ == '__main__':
    main()
