"""Remove the top-level ``tests`` package that the mccd wheel (1.2.4) installs
into site-packages: as a regular package it shadows this repository's
``tests`` directory (a namespace package), so ``from tests.conftest import
...`` fails. Only a ``tests`` directory holding mccd's own test file is removed.
"""

import os
import shutil
import sysconfig

path = os.path.join(sysconfig.get_paths()['purelib'], 'tests')
if os.path.isfile(os.path.join(path, 'test_pysap_wavelet.py')):
    shutil.rmtree(path)
    print(f'removed {path} (installed by the mccd wheel; it shadows shapepipe\'s tests)')
