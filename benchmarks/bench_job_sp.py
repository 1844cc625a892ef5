"""job_sp on the simulator's four neighbouring tiles (tiles2x2): wall time and
peak memory on 1 tile and on 4 tiles, the speed-up of processing shared
exposures once (4 tiles in one job against 4 one-tile jobs), the speed-up of the
shape-step split (--nsh_jobs 2 against 1) and the cores used by the shape step.

    python benchmarks/bench_job_sp.py [--workdir DIR]

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


def job_sp(run_dir, args):
    """Run job_sp; return (wall seconds, CPU seconds of its process tree)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ['PATH'])
    env.pop('SP_CONFIG', None)
    subprocess.run([os.path.join(BIN, 'job_sp')] + args, cwd=run_dir, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def peak_mb():
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--workdir', default=None)
    parser.add_argument('--split_preset', default='demo',
                        help='simulator preset of the one-tile field of the shape-split '
                             'comparison (the tiles2x2 corners hold too few objects)')
    parser.add_argument('--only_split', action='store_true',
                        help='only the shape-split comparison')
    args = parser.parse_args(argv)
    work = args.workdir or tempfile.mkdtemp(prefix='bench_job_sp_')
    sim = os.path.join(work, 'sim')
    subprocess.run([os.path.join(BIN, 'shapepipe_simulate'), '-o', sim, '--preset', 'tiles2x2',
                    '--seed', '5', '--overwrite'], check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(sim, 'tile_numbers.txt')) as handle:
        tiles = handle.read().split()
    common = ['-j', '127', '--star_cat_from', 'truth.fits']

    def fresh(name):
        path = os.path.join(work, name)
        shutil.rmtree(path, ignore_errors=True)
        shutil.copytree(sim, path, symlinks=True)
        return path

    if not args.only_split:
        tiles_and_dedup(fresh, common, tiles)
    split_field = os.path.join(work, f'split_{args.split_preset}')
    subprocess.run([os.path.join(BIN, 'shapepipe_simulate'), '-o', split_field, '--preset',
                    args.split_preset, '--overwrite'], check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(split_field, 'tile_numbers.txt')) as handle:
        tile = handle.read().split()
    wall, cpu = job_sp(split_field, common + tile)
    print(f'1 tile ({args.split_preset} preset), job_sp -j 127: {wall:.1f} s wall, '
          f'{cpu:.1f} s CPU, peak {peak_mb():.0f} MB')
    shapes = {}
    for n in (1, 2):
        wall, cpu = job_sp(split_field, ['-j', '32', '--nsh_jobs', str(n)] + tile)
        shapes[n] = wall
        print(f'shape step, --nsh_jobs {n}: {wall:.1f} s wall, {cpu:.1f} s CPU, '
              f'{cpu / wall:.2f} cores used')
    print(f'shape-step split speed-up (2 jobs vs 1): {shapes[1] / shapes[2]:.2f}')
    print(f'load average at the end: {os.getloadavg()[0]:.1f} (2 cores shared)')
    return 0


def tiles_and_dedup(fresh, common, tiles):
    """4 tiles in one job against 4 one-tile jobs."""
    run4 = fresh('four')
    wall4, cpu4 = job_sp(run4, common + tiles)
    peak4 = peak_mb()
    print(f'4 tiles, one job_sp -j 127: {wall4:.1f} s wall, {cpu4:.1f} s CPU, '
          f'peak {peak4:.0f} MB')
    singles, cpus = [], []
    for tile in tiles:
        wall, cpu = job_sp(fresh(f'one_{tile}'), common + [tile])
        singles.append(wall)
        cpus.append(cpu)
        print(f'1 tile {tile}, job_sp -j 127: {wall:.1f} s wall, {cpu:.1f} s CPU')
    print(f'peak of the one-tile jobs {peak_mb():.0f} MB')
    print(f'exposure de-duplication: 4 one-tile jobs {sum(singles):.1f} s / one 4-tile job '
          f'{wall4:.1f} s = speed-up {sum(singles) / wall4:.2f} (CPU time: {sum(cpus):.1f} s / '
          f'{cpu4:.1f} s = {sum(cpus) / cpu4:.2f})')


if __name__ == '__main__':
    sys.exit(main())
