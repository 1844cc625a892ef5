"""Cost of the safe store encoding against sqlitedict's pickle.

Writes and reads back a multi-epoch stamp store of N objects x 3 epochs of
51 x 51 float32 stamps (vignetmaker MULTI-EPOCH's layout), once with the
encoding of :mod:`shapepipe.io.stores` and once with sqlitedict's default
pickle (what ShapePipe writes), and prints the seconds per 1000 objects and
the file sizes. ShapePipe has no safe encoding to compare with: the pickle
row is ShapePipe's figure.

Usage: .venv/bin/python benchmarks/bench_store_encoding.py [N]   (default 4000)
"""

import os
import sys
import tempfile
import time

import numpy as np
from sqlitedict import SqliteDict

from shapepipe.io.stores import create_store, open_store


def entries(n, rng):
    """The store's entries; stamps drawn beforehand (the timing is of the store only)."""
    stamps = rng.normal(size=(64, 51, 51)).astype(np.float32)
    return [(str(number), {f'21137{e}-{e + 3}': {'VIGNET': stamps[(number + e) % 64]}
                           for e in range(3)}) for number in range(1, n + 1)]


def timed(write, read, path, n):
    values = entries(n, np.random.default_rng(1))
    start = time.perf_counter()
    with write(path) as store:
        for key, value in values:
            store[key] = value
        store.commit()
    written = time.perf_counter() - start
    start = time.perf_counter()
    with read(path) as store:
        total = sum(float(v['211370-3']['VIGNET'][25, 25]) for v in store.values())
    return written, time.perf_counter() - start, os.path.getsize(path), total


def main(n):
    with tempfile.TemporaryDirectory() as tmp:
        safe = timed(create_store, open_store, os.path.join(tmp, 'safe.sqlite'), n)
        pickled = timed(lambda p: SqliteDict(p, autocommit=False),
                        lambda p: SqliteDict(p, flag='r'), os.path.join(tmp, 'pickle.sqlite'), n)
    assert safe[3] == pickled[3]
    print(f'{n} objects x 3 epochs of 51x51 float32 stamps')
    print(f'{"encoding":<28} {"write s/1000 obj":>17} {"read s/1000 obj":>16} {"MB":>7}')
    for name, (w, r, size, _) in (('shapepipe.io.stores (safe)', safe),
                                  ('pickle (ShapePipe)', pickled)):
        print(f'{name:<28} {w / n * 1000:>17.3f} {r / n * 1000:>16.3f} {size / 1e6:>7.1f}')


if __name__ == '__main__':
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 4000)
