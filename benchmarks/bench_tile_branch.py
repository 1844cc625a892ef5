"""Per-module wall time and peak memory of the tile branch (config_tile_branch.ini).

Runs ``shapepipe_run -c example/GOLD/config_tile_branch.ini`` on a run
directory where config_prepare.ini and config_exp.ini have already run, polls
the resident memory of the run's processes (shapepipe_run and every process it
starts) every 0.2 s, and prints for each module: its wall time, milliseconds
per tile object, objects per second, the peak memory while it ran, and
ShapePipe v1.0.2's per-object figure on this machine
(../shared/docs/machine_notes.md). Then the size per object of the sqlite
stores, and the whole branch.

Usage:
    .venv/bin/python benchmarks/bench_tile_branch.py [SP_RUN]

Without SP_RUN the demo field is simulated and its exposures processed in a
temporary directory first (about 1 minute). For a full 0.5 deg CFIS tile:

    shapepipe_simulate -o /tmp/cfis --preset cfis      # ~13 min
    cd /tmp/cfis && SP_RUN=$PWD SP_CONFIG=$REPO/example/GOLD SP_N_HDU=40 \\
        shapepipe_run -c $REPO/example/GOLD/config_prepare.ini   (then config_exp.ini, ~11 min)
    .venv/bin/python benchmarks/bench_tile_branch.py /tmp/cfis
"""

import datetime
import glob
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

from astropy.io import fits

from simulated_field import BIN, GOLD, pipeline_env, run_configs, simulate

#: ShapePipe v1.0.2 on this machine, seconds per tile object.
SHAPEPIPE_S_PER_OBJECT = {'psfex_interp_runner': 1.7e-3, 'vignetmaker_runner_run_2': 3.8e-3,
                          'spread_model_runner': 2.5e-3, 'ngmix_runner': 0.54}


def _children():
    """parent pid -> child pids, from /proc."""
    tree = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open(f'/proc/{entry}/stat') as stat:
                    ppid = int(stat.read().rsplit(')', 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(ppid, []).append(int(entry))
    return tree


def _rss_mb(pid):
    try:
        with open(f'/proc/{pid}/status') as status:
            for line in status:
                if line.startswith('VmRSS'):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def sample_memory(root, samples, stop):
    """Append (time, largest process RSS [MB], total RSS [MB]) of ``root``'s tree."""
    while not stop.is_set():
        tree, pids, rss = _children(), [root], []
        while pids:
            pid = pids.pop()
            rss.append(_rss_mb(pid))
            pids.extend(tree.get(pid, []))
        samples.append((time.time(), max(rss), sum(rss)))
        time.sleep(0.2)


def module_windows(log_text):
    """[(module, start epoch seconds)] from the main log's '-- module' lines."""
    windows = []
    for match in re.finditer(r'^(\S+ \S+) -- (\w+) [\d.]+:', log_text, re.M):
        stamp = datetime.datetime.strptime(match.group(1), '%Y-%m-%d %H:%M:%S')
        windows.append((match.group(2), stamp.timestamp()))
    return windows


def main(sp_run=None):
    if sp_run is None:
        with tempfile.TemporaryDirectory() as tmp:
            run_configs(tmp, simulate(tmp))
            return main(tmp)
    sp_run = os.path.abspath(sp_run)
    env = pipeline_env(sp_run, os.environ.get('SP_N_HDU', '4'))
    samples, stop = [], threading.Event()
    start = time.time()
    process = subprocess.Popen([os.path.join(BIN, 'shapepipe_run'), '-c',
                                os.path.join(GOLD, 'config_tile_branch.ini')],
                               env=env, cwd=sp_run, stdout=subprocess.DEVNULL)
    sampler = threading.Thread(target=sample_memory, args=(process.pid, samples, stop))
    sampler.start()
    status = process.wait()
    stop.set()
    sampler.join()
    total = time.time() - start
    if status:
        sys.exit(f'config_tile_branch.ini failed (exit {status}): see {sp_run}/output')
    run_dir = sorted(glob.glob(os.path.join(sp_run, 'output', 'run_sp_tile_branch_*')))[-1]
    log = open(os.path.join(run_dir, 'logs', 'log_sp.log')).read()
    catalog = glob.glob(os.path.join(run_dir, 'sextractor_runner', 'output', '*.fits'))[0]
    n_objects = len(fits.getdata(catalog, 2))
    windows = module_windows(log) + [('end', time.time())]
    print(f'{sp_run}: tile branch, {n_objects} detections, {total:.1f} s in all '
          f'({1e3 * total / max(n_objects, 1):.1f} ms per object)')
    print(f'{"module":<26} {"wall [s]":>9} {"ms/object":>10} {"objects/s":>10} '
          f'{"peak MB":>8} {"ShapePipe ms/object":>20}')
    for (module, begin), (_, end) in zip(windows[:-1], windows[1:]):
        row = re.search(rf'^{module}\s+\d+\s+\d+\s+\d+\s+\d+\s+([\d.]+)$', log, re.M)
        wall = float(row.group(1)) if row else end - begin
        peak = max((s[1] for s in samples if begin - 1 <= s[0] <= end + 1), default=0.0)
        reference = SHAPEPIPE_S_PER_OBJECT.get(module)
        print(f'{module:<26} {wall:9.2f} {1e3 * wall / max(n_objects, 1):10.3f} '
              f'{n_objects / max(wall, 1e-9):10.0f} {peak:8.0f} '
              f'{1e3 * reference if reference else "":>20}')
    print(f'peak memory of one process: {max(s[1] for s in samples):.0f} MB; of the whole run: '
          f'{max(s[2] for s in samples):.0f} MB')
    for path in sorted(glob.glob(os.path.join(run_dir, '*', 'output', '*.sqlite'))):
        size = os.path.getsize(path)
        print(f'{os.path.relpath(path, run_dir):<70} {size / 2 ** 20:8.1f} MB '
              f'{size / max(n_objects, 1) / 1024:6.1f} KB/object')


if __name__ == '__main__':
    main(*sys.argv[1:2])
