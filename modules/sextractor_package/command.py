"""Building the Source Extractor command line and naming its outputs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
import math
import os

from astropy.io import fits

from shapepipe.errors import InputError

NNW_CANDIDATES = ('/usr/share/source-extractor/default.nnw', '/usr/share/sextractor/default.nnw')
CHECK_TYPES = ('BACKGROUND', 'BACKGROUND_RMS', 'INIBACKGROUND', 'MINIBACK_RMS', '-BACKGROUND',
               'FILTERED', 'OBJECTS', '-OBJECTS', 'SEGMENTATION', 'APERTURES')


def output_names(output_dir: str, prefix: str, number: str,
                 check_types: Iterable[str]) -> tuple[str, list[str]]:
    """Catalogue ``{prefix_}sexcat{num}.fits`` and check images ``{prefix_}{type}{num}.fits``."""
    lead = f'{prefix}_' if prefix else ''
    catalog = os.path.join(output_dir, f'{lead}sexcat{number}.fits')
    checks = [os.path.join(output_dir, f'{lead}{t.lower().replace("-", "minus_")}{number}.fits')
              for t in check_types]
    return catalog, checks


def header_value(path: str | os.PathLike, key: str) -> Any:
    """A keyword of an image's header (primary, else first extension)."""
    with fits.open(path) as hdul:
        for hdu in hdul:
            if key in hdu.header:
                return hdu.header[key]
    raise InputError(f'{path} has no {key} keyword: set ZP_FROM_HEADER/BKG_FROM_HEADER = False '
                     f'or fix ZP_KEY/BKG_KEY', path=path)


def numeric_header_value(path: str | os.PathLike, key: str) -> float:
    """A header keyword that must be a finite number (a zero point, a background).

    Raises
    ------
    InputError
        Missing keyword, or a value such as ``'INDEF'``, NaN or a boolean, which
        Source Extractor would silently read as 0.
    """
    value = header_value(path, key)
    number = None
    if not isinstance(value, bool):
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = None
    if number is None or not math.isfinite(number):
        raise InputError(f'{path}: header keyword {key} = {value!r} is not a finite number: fix '
                         f'the header, or set ZP_FROM_HEADER/BKG_FROM_HEADER = False',
                         path=path, key=key)
    return number


def build_command(executable: str, image: str, catalog: str, dot_sex: str, dot_param: str,
                  dot_conv: str, weight: str | None = None, flag: str | None = None,
                  psf: str | None = None, detection_image: str | None = None,
                  detection_weight: str | None = None, zero_point: float | None = None,
                  background: float | None = None, check_types: Sequence[str] = (),
                  check_names: Sequence[str] = (), cwd: str | None = None) -> list[str]:
    """The argument list of one Source Extractor run (dual-image mode when a
    detection image is given); relative paths are relative to ``cwd``, the
    directory it will run in."""
    for path, what in ((dot_sex, 'DOT_SEX_FILE'), (dot_param, 'DOT_PARAM_FILE'),
                       (dot_conv, 'DOT_CONV_FILE')):
        full = os.path.join(cwd or '', path) if path else path
        if path and not os.path.isfile(full):
            raise InputError(f'{what} {os.path.normpath(full)} not found: fix the path in the '
                             f'config', path=full)
    images = f'{detection_image},{image}' if detection_image else image
    args = [executable, images, '-c', dot_sex, '-CATALOG_NAME', catalog,
            '-CATALOG_TYPE', 'FITS_LDAC', '-PARAMETERS_NAME', dot_param,
            '-FILTER_NAME', dot_conv, '-VERBOSE_TYPE', 'QUIET']
    nnw = next((p for p in NNW_CANDIDATES if os.path.isfile(p)), None)
    if nnw:
        args += ['-STARNNW_NAME', nnw]
    if weight:
        weights = f'{detection_weight},{weight}' if detection_weight else weight
        kinds = 'MAP_WEIGHT,MAP_WEIGHT' if detection_weight else 'MAP_WEIGHT'
        args += ['-WEIGHT_IMAGE', weights, '-WEIGHT_TYPE', kinds]
    if flag:
        args += ['-FLAG_IMAGE', flag, '-FLAG_TYPE', 'OR']
    if psf:
        args += ['-PSF_NAME', psf]
    if zero_point is not None:
        args += ['-MAG_ZEROPOINT', str(zero_point)]
    if background is not None:
        args += ['-BACK_TYPE', 'MANUAL', '-BACK_VALUE', str(background)]
    if check_types:
        args += ['-CHECKIMAGE_TYPE', ','.join(check_types), '-CHECKIMAGE_NAME',
                 ','.join(check_names)]
    else:
        args += ['-CHECKIMAGE_TYPE', 'NONE']
    return args
