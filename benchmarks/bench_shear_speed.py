"""CPU cost of the shape measurement per object-epoch, on one core.

Measures :func:`shapepipe.modules.ngmix_package.measure.measure` (metacal
images with noise symmetrisation, PSF Gaussian fits and the five joint
galaxy fits) on 51x51 stamps at S/N 20-50, for 1, 2 and 3 epochs and
100 / 1000 / 10000 objects, in batches of 256 as ngmix_runner does. Prints
CPU-seconds per object-epoch, a linear fit (intercept + slope per
object-epoch) and the peak memory, beside ShapePipe's figure on this machine
(0.11 s per object-epoch, ../shared/docs/machine_notes.md).

Usage: .venv/bin/python benchmarks/bench_shear_speed.py [max_objects]
"""

import os

os.environ.setdefault('OMP_NUM_THREADS', '1')
os.environ.setdefault('OPENBLAS_NUM_THREADS', '1')

import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from shapepipe.modules.ngmix_package.measure import Epochs, measure  # noqa: E402
from shapepipe.simulation.shear_stamps import StampSimConfig, simulate_pairs  # noqa: E402

SHAPEPIPE_S_PER_OBJECT_EPOCH = 0.11
TARGET = 0.011
BATCH = 256


def stamp_pool(n_epochs, n_objects=BATCH):
    """A batch of simulated objects reused for every batch of a timing run."""
    sim = simulate_pairs(StampSimConfig(n_galaxies=n_objects // 2, n_epochs=n_epochs,
                                        snr_range=(20.0, 50.0), antithetic=False, seed=7))
    data = dict(sim['plus'])
    data.pop('noise')
    return data


def time_run(pool, n_objects):
    """CPU seconds to measure ``n_objects`` objects (batches cycling through the pool)."""
    n_pool = len(pool['start']) - 1
    cpu = 0.0
    done = 0
    while done < n_objects:
        size = min(BATCH, n_objects - done, n_pool)
        stop = pool['start'][size]
        part = {k: (v[:size + 1] if k == 'start' else v[:stop]) for k, v in pool.items()}
        ids = np.arange(done + 1, done + size + 1)
        rngs = [np.random.default_rng([5, int(i)]) for i in ids]
        start = time.process_time()
        measure(ids, Epochs(**part), rngs)
        cpu += time.process_time() - start
        done += size
    return cpu


def main(max_objects=10000):
    counts = [n for n in (100, 1000, 10000) if n <= max_objects]
    # warm-up: numba compilation or cache load, FFT plans
    warm = stamp_pool(1, 8)
    time_run(warm, 8)
    rows = []
    print(f'{"epochs":>6} {"objects":>8} {"CPU [s]":>9} {"CPU/obj-epoch [ms]":>19}')
    for n_epochs in (1, 2, 3):
        pool = stamp_pool(n_epochs)
        for n_objects in counts:
            cpu = time_run(pool, n_objects)
            n_oe = n_objects * n_epochs
            rows.append((n_oe, cpu))
            print(f'{n_epochs:>6} {n_objects:>8} {cpu:>9.2f} {1e3 * cpu / n_oe:>19.2f}',
                  flush=True)
    n_oe, cpu = np.array(rows).T
    slope, intercept = np.polyfit(n_oe, cpu, 1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print()
    print(f'linear fit: CPU = {intercept:.3f} s + {1e3 * slope:.2f} ms x object-epochs')
    print(f'ours:      {slope:.4f} CPU-s per object-epoch (target <= {TARGET})')
    print(f'ShapePipe: {SHAPEPIPE_S_PER_OBJECT_EPOCH} s per object-epoch on this machine '
          f'-> {SHAPEPIPE_S_PER_OBJECT_EPOCH / slope:.0f}x faster')
    print(f'peak memory (RSS): {peak:.0f} MB')
    return 0


if __name__ == '__main__':
    sys.exit(main(*(int(a) for a in sys.argv[1:])))
