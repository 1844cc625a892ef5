"""Random generators seeded from the run seed and the file number.

Never use numpy's global state: each job (and, where results must not depend
on how objects are split into jobs, each object) gets its own generator.
"""

from __future__ import annotations

import zlib

import numpy as np


def make_rng(run_seed: int, *keys: str | int) -> np.random.Generator:
    """A ``numpy.random.Generator`` determined by the run seed and keys.

    Parameters
    ----------
    run_seed : int
        The run's seed (``[EXECUTION] SEED``).
    *keys : str or int
        E.g. the file number string ``'-2113737-10'`` and an object id.
    """
    entropy = [int(run_seed) & 0xFFFFFFFF]
    for key in keys:
        if isinstance(key, (int, np.integer)):
            entropy.append(int(key) & 0xFFFFFFFF)
        else:
            entropy.append(zlib.crc32(str(key).encode()))
    return np.random.default_rng(np.random.SeedSequence(entropy))
