"""Dispatch overhead: 1000 trivial jobs through the whole pipeline machinery.

Runs a no-op runner over 1000 input files with SMP_BATCH_SIZE = 2 (joblib loky)
and with ``mpiexec -n 2`` (MODE = MPI), and prints the overhead per job (module
wall time / jobs: file matching, process logs, dispatch, result collection) and
the start-up cost of one ``shapepipe_run``, beside ShapePipe's start-up figure
on this machine (../shared/docs/machine_notes.md).

Usage: .venv/bin/python benchmarks/bench_dispatch.py [n_jobs]
"""

import os
import re
import subprocess
import sys
import tempfile
import time

BIN = os.path.dirname(sys.executable)
SHAPEPIPE_STARTUP_S = 1.0   # ShapePipe v1.0.2, every shapepipe_run call, this machine

NOOP_RUNNER = '''
from shapepipe.modules.module_decorator import module_runner

@module_runner(version='1.0', file_pattern='item', file_ext='.txt')
def noop_runner(input_file_list, run_dirs, file_number_string, config, module_config_sec, w_log):
    """Do nothing (dispatch benchmark)."""
'''

CONFIG = '''
[DEFAULT]
VERBOSE = False
[EXECUTION]
MODULE = noop_runner
MODE = {mode}
[FILE]
INPUT_DIR = {inputs}
OUTPUT_DIR = {outputs}
NUMBERING_SCHEME = _0
[JOB]
SMP_BATCH_SIZE = 2
'''


def module_seconds(output_dir):
    runs = sorted(d for d in os.listdir(output_dir) if os.path.isdir(os.path.join(output_dir, d)))
    log = open(os.path.join(output_dir, runs[-1], 'logs', 'shapepipe.log')).read()
    row = re.search(r'^noop_runner\s+(\d+)\s+(\d+)\s+\S+\s+\d+\s+([\d.]+)$', log, re.M)
    return int(row.group(2)), float(row.group(3))


def measure(workdir, mode, n_jobs, env):
    config = os.path.join(workdir, f'{mode}.ini')
    outputs = os.path.join(workdir, f'out_{mode}')
    with open(config, 'w') as handle:
        handle.write(CONFIG.format(mode=mode, inputs=os.path.join(workdir, 'inputs'),
                                   outputs=outputs))
    command = [os.path.join(BIN, 'shapepipe_run'), '-c', config]
    if mode == 'MPI':
        command = [os.path.join(BIN, 'mpiexec'), '-n', '2'] + command
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env)
    total = time.perf_counter() - start
    ok, seconds = module_seconds(outputs)
    assert ok == n_jobs, f'{ok} of {n_jobs} jobs succeeded'
    return total, seconds


def main(n_jobs=1000):
    with tempfile.TemporaryDirectory() as workdir:
        os.makedirs(os.path.join(workdir, 'inputs'))
        os.makedirs(os.path.join(workdir, 'modules'))
        for i in range(n_jobs):
            open(os.path.join(workdir, 'inputs', f'item_{i}.txt'), 'w').close()
        with open(os.path.join(workdir, 'modules', 'noop_runner.py'), 'w') as handle:
            handle.write(NOOP_RUNNER)
        env = dict(os.environ, SHAPEPIPE_MODULE_PATH=os.path.join(workdir, 'modules'),
                   PATH=BIN + os.pathsep + os.environ['PATH'])
        print(f'{n_jobs} trivial jobs, 2 workers')
        print(f'{"mode":<6} {"total [s]":>10} {"module [s]":>11} {"per job [ms]":>13} {"start-up [s]":>13}')
        for mode in ('SMP', 'MPI'):
            total, seconds = measure(workdir, mode, n_jobs, env)
            print(f'{mode:<6} {total:>10.2f} {seconds:>11.2f} {1e3 * seconds / n_jobs:>13.2f} '
                  f'{total - seconds:>13.2f}')
        print(f'target: < 5 ms per job; ShapePipe start-up per shapepipe_run: ~{SHAPEPIPE_STARTUP_S} s')


if __name__ == '__main__':
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
