"""Wall time per CCD of each single-exposure module on a simulated field.

Simulates a field (default: the demo preset, 3 exposures x 4 CCDs), runs
config_prepare.ini and config_exp.ini with SMP_BATCH_SIZE = 2, and prints for
each module the mean job time per CCD (from the process logs) and the module's
wall time, beside ShapePipe v1.0.2's figures on this machine
(../shared/docs/machine_notes.md).

Usage: .venv/bin/python benchmarks/bench_exposure_branch.py [preset] [n_ccd]
"""

import glob
import os
import re
import resource
import sys
import tempfile
import time

from simulated_field import run_configs, simulate

SHAPEPIPE_S_PER_CCD = {'split_exp_runner': 1.0, 'sextractor_runner': 1.4,
                       'setools_runner': 0.75, 'psfex_runner': 9.9,
                       'psfex_interp_runner': 0.1}


def job_seconds(module_dir):
    times = []
    for path in glob.glob(os.path.join(module_dir, 'logs', '*.log')):
        match = re.search(r'end of job: \w+ after ([\d.]+) s', open(path).read())
        if match:
            times.append(float(match.group(1)))
    return times


def main(preset='demo', n_ccd='4'):
    with tempfile.TemporaryDirectory() as sp_run:
        start = time.perf_counter()
        env = simulate(sp_run, preset, n_ccd)
        simulated = time.perf_counter()
        run_configs(sp_run, env)
        done = time.perf_counter()
        run_dir = sorted(glob.glob(os.path.join(sp_run, 'output', 'run_sp_exp_*')))[-1]
        log = open(os.path.join(run_dir, 'logs', 'log_sp.log')).read()
        print(f'preset {preset}: simulation {simulated - start:.1f} s, prepare + exposure branch '
              f'{done - simulated:.1f} s (2 jobs in parallel)')
        print(f'{"module":<22} {"jobs":>5} {"s/job":>7} {"wall [s]":>9} {"ShapePipe s/CCD":>16}')
        for module in ('split_exp_runner', 'merge_headers_runner', 'mask_runner',
                       'sextractor_runner', 'setools_runner', 'psfex_runner',
                       'psfex_interp_runner', 'merge_starcat_runner'):
            times = job_seconds(os.path.join(run_dir, module))
            row = re.search(rf'^{module}\s+(\d+)\s+\d+\s+\S+\s+\d+\s+([\d.]+)$', log, re.M)
            reference = SHAPEPIPE_S_PER_CCD.get(module)
            print(f'{module:<22} {len(times):>5} {sum(times) / max(len(times), 1):>7.2f} '
                  f'{float(row.group(2)) if row else float("nan"):>9.2f} '
                  f'{reference if reference else "":>16}')
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f'peak memory of one process: {peak:.0f} MB')
        print('note: split_exp jobs are per exposure (all its CCDs); the others per CCD')


if __name__ == '__main__':
    main(*sys.argv[1:])
