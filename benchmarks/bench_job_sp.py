"""job_sp on the simulator's four neighbouring tiles (tiles2x2): wall time and
peak memory on 1 tile and on 4 tiles, the speed-up of processing shared
exposures once (4 tiles in one job against 4 one-tile jobs); on one larger tile
(the demo field with a 3800^2-pixel tile: ~1900-2000 detected objects at the
demo's CFIS-like density) the whole job and the shape step with one range (--nsh_jobs 1), two
ranges (--nsh_jobs 2) and job_sp's computed split, with the cores they used.

    python benchmarks/bench_job_sp.py [--workdir DIR] [--split_field DIR] [--only_split]

Peak memory is the largest process of the job (RUSAGE_CHILDREN maxrss); the
cores used by a step are its processes' CPU time over its wall time.
ShapePipe has no multi-tile or split figure on this machine (machine_notes.md):
its production runs one tile per job and redoes the shared exposures.
"""

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

BIN = os.path.dirname(sys.executable)


LAST_PEAK_MB = [0.0]


def job_sp(run_dir, args):
    """Run job_sp; return (wall seconds, CPU seconds of its process tree). The largest
    process of its tree (GNU time's maxrss) is kept for :func:`peak_mb`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ['PATH'])
    env.pop('SP_CONFIG', None)
    with tempfile.NamedTemporaryFile('r') as record:
        subprocess.run(['/usr/bin/time', '-f', '%M', '-o', record.name,
                        os.path.join(BIN, 'job_sp')] + args, cwd=run_dir, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        LAST_PEAK_MB[0] = int(record.read().split()[-1]) / 1024
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def core_busy(before=None):
    """Per-core (busy, total) jiffies from /proc/stat, or the busy share since ``before``."""
    now = []
    with open('/proc/stat') as handle:
        for line in handle:
            if line.startswith('cpu') and line[3].isdigit():
                values = [int(v) for v in line.split()[1:]]
                idle = values[3] + values[4]
                now.append((sum(values) - idle, sum(values)))
    if before is None:
        return now
    return [(b1 - b0) / max(1, t1 - t0) for (b0, t0), (b1, t1) in zip(before, now)]


def peak_mb():
    """Largest process of the last job_sp call [MB]."""
    return LAST_PEAK_MB[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--workdir', default=None)
    parser.add_argument('--split_preset', default='demo',
                        help='simulator preset of the one-tile field of the shape-split '
                             'comparison (the tiles2x2 corners hold too few objects)')
    parser.add_argument('--split_tile_npix', type=int, default=3800,
                        help='its tile size in pixels (3800: ~1900-2000 detected objects)')
    parser.add_argument('--split_field', default=None,
                        help='an already simulated one-tile field to use (copied)')
    parser.add_argument('--only_split', action='store_true',
                        help='only the shape-split comparison')
    parser.add_argument('--shapes_only', action='store_true',
                        help='with --only_split: reuse the processed one-tile field of '
                             'WORKDIR (steps 1-16 done) and time only the shape step')
    parser.add_argument('--repeat', type=int, default=1,
                        help='shape-step runs of each kind, alternated; the fastest counts '
                             '(the least disturbed by other users of the cores)')
    args = parser.parse_args(argv)
    work = args.workdir or tempfile.mkdtemp(prefix='bench_job_sp_')
    sim = os.path.join(work, 'sim')
    common = ['-j', '127', '--star_cat_from', 'truth.fits']

    def fresh(name):
        path = os.path.join(work, name)
        shutil.rmtree(path, ignore_errors=True)
        shutil.copytree(sim, path, symlinks=True)
        return path

    if not args.only_split:
        subprocess.run([os.path.join(BIN, 'shapepipe_simulate'), '-o', sim, '--preset',
                        'tiles2x2', '--seed', '5', '--overwrite'], check=True,
                       stdout=subprocess.DEVNULL)
        with open(os.path.join(sim, 'tile_numbers.txt')) as handle:
            tiles = handle.read().split()
        print(f'load average before the tiles2x2 runs: {os.getloadavg()[0]:.1f}')
        tiles_and_dedup(fresh, common, tiles)
    split_field = os.path.join(work, f'split_{args.split_preset}')
    if args.shapes_only:
        pass
    elif args.split_field:
        shutil.rmtree(split_field, ignore_errors=True)
        shutil.copytree(args.split_field, split_field, symlinks=True,
                        ignore=shutil.ignore_patterns('output', 'cfis', 'cfis_mod', 'data_*'))
    else:
        subprocess.run([os.path.join(BIN, 'shapepipe_simulate'), '-o', split_field, '--preset',
                        args.split_preset, '--tile-npix', str(args.split_tile_npix),
                        '--overwrite'], check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(split_field, 'tile_numbers.txt')) as handle:
        tile = handle.read().split()
    print(f'load average before the one-tile runs: {os.getloadavg()[0]:.1f}')
    from shapepipe.commands.get_number_objects import number_of_objects

    if not args.shapes_only:
        wall, cpu = job_sp(split_field, common + tile)
        print(f'1 tile ({args.split_preset} preset, {args.split_tile_npix}^2 pixels), job_sp '
              f'-j 127: {wall:.1f} s wall, {cpu:.1f} s CPU, peak {peak_mb():.0f} MB')
    n_obj = number_of_objects(os.path.join(split_field, 'output', 'log_run_sp.txt'))
    print(f'{n_obj} objects in the tile catalogue')
    shapes = {}
    for _ in range(args.repeat):
        for label, options in (('--nsh_jobs 1', ['--nsh_jobs', '1']),
                               ('--nsh_jobs 2', ['--nsh_jobs', '2']),
                               ('computed split', [])):
            busy = core_busy()
            wall, cpu = job_sp(split_field, ['-j', '32'] + options + tile)
            per_core = [f'{b:.0%}' for b in core_busy(busy)]
            shapes[label] = min(wall, shapes.get(label, wall))
            print(f'shape step, {label}: {wall:.1f} s wall, {cpu:.1f} s CPU, {cpu / wall:.2f} '
                  f'cores used by job_sp; cores busy (all users): {", ".join(per_core)}; '
                  f'load {os.getloadavg()[0]:.1f}', flush=True)
    base = shapes['--nsh_jobs 1']
    print(f'shape-step speed-up against one job: --nsh_jobs 2 {base / shapes["--nsh_jobs 2"]:.2f},'
          f' computed split {base / shapes["computed split"]:.2f}')
    print(f'load average at the end: {os.getloadavg()[0]:.1f} (2 cores shared)')
    return 0


def tiles_and_dedup(fresh, common, tiles):
    """4 tiles in one job against 4 one-tile jobs."""
    run4 = fresh('four')
    wall4, cpu4 = job_sp(run4, common + tiles)
    peak4 = peak_mb()
    print(f'4 tiles, one job_sp -j 127: {wall4:.1f} s wall, {cpu4:.1f} s CPU, '
          f'peak {peak4:.0f} MB')
    singles, cpus, peaks = [], [], []
    for tile in tiles:
        wall, cpu = job_sp(fresh(f'one_{tile}'), common + [tile])
        singles.append(wall)
        cpus.append(cpu)
        peaks.append(peak_mb())
        print(f'1 tile {tile}, job_sp -j 127: {wall:.1f} s wall, {cpu:.1f} s CPU, '
              f'peak {peak_mb():.0f} MB')
    print(f'peak of the one-tile jobs {max(peaks):.0f} MB')
    print(f'exposure de-duplication: 4 one-tile jobs {sum(singles):.1f} s / one 4-tile job '
          f'{wall4:.1f} s = speed-up {sum(singles) / wall4:.2f} (CPU time: {sum(cpus):.1f} s / '
          f'{cpu4:.1f} s = {sum(cpus) / cpu4:.2f})')


if __name__ == '__main__':
    sys.exit(main())
