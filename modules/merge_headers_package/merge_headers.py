"""``log_exp_headers.sqlite``: exposure number -> per-CCD WCS and header.

The format (and its reader, :func:`shapepipe.io.exposure_headers.read_exposure_headers`,
used by the modules that take ``LOG_WCS``) is owned by :mod:`shapepipe.io.exposure_headers`.
"""

from __future__ import annotations

from collections.abc import Sequence
import os

from shapepipe.io.exposure_headers import STORE_NAME, merge_header_files


def merge_headers(paths: Sequence[str], output_dir: str | os.PathLike,
                  allow_pickle: bool = False) -> str:
    """Write the store from ``headers*.npy`` files; return its path.

    ``allow_pickle`` reads ShapePipe's pickled header files (numpy arrays and
    WCS objects only); the store written is always in the safe encoding.
    """
    return merge_header_files(paths, os.path.join(output_dir, STORE_NAME), allow_pickle)
