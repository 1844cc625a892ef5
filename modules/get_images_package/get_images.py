"""Retrieve images listed by ID, renamed to the pipeline convention.

A raw name is built from ``INPUT_FILE_PATTERN`` by replacing the part that
matches ``INPUT_NUMBERING`` with the ID (``CFIS.000.000.r`` + ``277.282`` ->
``CFIS.277.282.r``). The output name is ``OUTPUT_FILE_PATTERN`` + the pipeline
ID (``.`` -> ``-``, letters removed) + the extension without inner dots
(``.fits.fz`` -> ``.fitsfz``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
import os
import re
import time

from shapepipe.cfis import pipeline_ext, pipeline_id
from shapepipe.errors import ConfigError, ExecutableError, InputError
from shapepipe.io.atomic import atomic_path


def read_ids(paths: Iterable[str | os.PathLike]) -> list[str]:
    """IDs from list files (one a line, ``#`` comments), in order, without repeats."""
    ids = []
    for path in paths:
        with open(path) as handle:
            for line in handle:
                item = line.split('#')[0].strip()
                if item and item not in ids:
                    ids.append(item)
    return ids


def raw_name(pattern: str, numbering: str, image_id: str, ext: str) -> str:
    """``CFIS.000.000.r`` with ``\\d{3}\\.\\d{3}`` and ``277.282`` -> ``CFIS.277.282.r.fits``."""
    name, count = re.subn(numbering, image_id.replace('\\', '\\\\'), pattern, count=1)
    if count == 0:
        raise ConfigError(f'INPUT_NUMBERING {numbering!r} does not match INPUT_FILE_PATTERN '
                          f'{pattern!r}')
    return name + ext


def output_name(out_pattern: str, image_id: str, ext: str) -> str:
    """``CFIS_image-`` + ``277.282`` + ``.fits.fz`` -> ``CFIS_image-277-282.fitsfz``."""
    return f'{out_pattern}{pipeline_id(image_id)}{pipeline_ext(ext)}'


def plan(ids: Iterable[str], input_paths: Sequence[str], patterns: Sequence[str],
         exts: Sequence[str], out_patterns: Sequence[str], numbering: str,
         output_dir: str) -> list[tuple[str, str]]:
    """``[(source, destination)]`` for every ID and input type."""
    lengths = {len(input_paths), len(patterns), len(exts), len(out_patterns)}
    if len(lengths) != 1:
        raise ConfigError('INPUT_PATH, INPUT_FILE_PATTERN, INPUT_FILE_EXT and '
                          'OUTPUT_FILE_PATTERN must have the same number of entries')
    pairs = []
    for image_id in ids:
        for path, pattern, ext, out_pattern in zip(input_paths, patterns, exts, out_patterns):
            source = f'{path.rstrip("/")}/{raw_name(pattern, numbering, image_id, ext)}'
            pairs.append((source, os.path.join(output_dir, output_name(out_pattern, image_id,
                                                                         ext))))
    return pairs


def link(source: str, destination: str) -> None:
    """Symbolic link ``destination`` -> ``source`` (replacing an older link)."""
    if not os.path.exists(source):
        raise InputError(f'{source} not found: check INPUT_PATH and the ID list', path=source)
    if os.path.islink(destination):
        os.unlink(destination)
    os.symlink(os.path.abspath(source), destination)


def vos_copy(source: str, destination: str, n_try: int, options: str = '') -> None:
    """Copy from VOSpace with the ``vos`` package, retrying ``n_try`` times."""
    try:
        from vos import vos
    except ImportError:
        raise ExecutableError('RETRIEVE = vos needs the vos package: .venv/bin/pip install vos')
    last = None
    for attempt in range(max(n_try, 1)):
        try:
            client = vos.Client()
            with atomic_path(destination) as tmp:   # no partial download under the final name
                client.copy(source, tmp)
            return
        except Exception as error:  # network or service errors: retried, then reported
            last = error
            time.sleep(min(2 ** attempt, 10))
    raise ExecutableError(f'could not copy {source} from VOSpace after {n_try} tries '
                          f'({str(last).splitlines()[0] if str(last) else type(last).__name__}); '
                          f'offline? use RETRIEVE = symlink with local files')
