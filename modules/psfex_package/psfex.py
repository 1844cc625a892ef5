"""PSFEx command line and the check of its result."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from astropy.io import fits

from shapepipe.errors import InputError, ModuleError
from shapepipe.io.atomic import atomic_path

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence


def psf_path(output_dir: str, star_catalog: str) -> str:
    """PSFEx names its model after the input catalogue: ``<basename>.psf``."""
    base = os.path.splitext(os.path.basename(star_catalog))[0]
    return os.path.join(output_dir, base + '.psf')


def check_image_names(
    output_dir: str, star_catalog: str, number: str, check_types: Iterable[str],
) -> list[str]:
    """ShapePipe's check-image names: ``{input name before its number}{type}{number}.fits``
    (``star_split_ratio_80chi-2113737-12.fits`` for CHI)."""
    stem = os.path.splitext(os.path.basename(star_catalog))[0]
    lead = stem.split(number)[0] if number else stem
    return [os.path.join(output_dir, f'{lead}{kind.lower()}{number}.fits') for kind in check_types]


def build_command(executable: str, star_catalog: str, dot_psfex: str, output_dir: str,
                  out_catalog: str, cwd: str | None = None, check_types: Sequence[str] = (),
                  check_names: Sequence[str] = ()) -> list[str]:
    """PSFEx arguments: model into ``output_dir``, no check plots; check images only
    when asked for (``CHECKIMAGE``). Relative paths are relative to ``cwd``, the
    directory PSFEx runs in."""
    full = os.path.join(cwd or '', dot_psfex)
    if not os.path.isfile(full):
        raise InputError(f'DOT_PSFEX_FILE {os.path.normpath(full)} not found: fix the path in '
                         f'the config', path=full)
    return [executable, star_catalog, '-c', dot_psfex, '-PSF_DIR', output_dir,
            '-OUTCAT_TYPE', 'FITS_LDAC', '-OUTCAT_NAME', out_catalog,
            '-CHECKPLOT_TYPE', 'NONE',
            '-CHECKIMAGE_TYPE', ','.join(t.upper() for t in check_types) or 'NONE',
            '-CHECKIMAGE_NAME', ','.join(check_names) or 'none', '-WRITE_XML', 'N',
            '-VERBOSE_TYPE', 'QUIET']


def check_star_catalog(path: str, min_stars: int) -> int:
    """Fail early (one line) on a selection PSFEx cannot model."""
    try:
        with fits.open(path) as hdul:
            if len(hdul) < 3 or 'VIGNET' not in hdul[2].columns.names:
                raise InputError(f'{path} is not a FITS_LDAC catalogue with VIGNET: give PSFEx '
                                 f'the setools star selection', path=path)
            n_stars = len(hdul[2].data)
    except OSError as error:
        raise InputError(f'{path}: cannot read ({error})', path=path) from None
    if n_stars < min_stars:
        raise ModuleError(f'{path}: {n_stars} stars, fewer than {min_stars}: no PSF model for '
                          f'this CCD', path=path)
    return n_stars


def check_model(path: str, stderr: str) -> tuple[int, float]:
    """The number of accepted stars of a written model."""
    if not os.path.isfile(path):
        raise ModuleError(f'PSFEx wrote no model {path}: {stderr.strip()[-300:]}', path=path)
    with fits.open(path) as hdul:
        header = hdul[1].header
        return header.get('ACCEPTED', 0), header.get('CHI2', float('nan'))


def configured_basis(dot_psfex: str) -> str:
    """``BASIS_TYPE`` of a ``.psfex`` configuration (PSFEx's default PIXEL_AUTO if absent)."""
    with open(dot_psfex) as config:
        for line in config:
            words = line.split('#', 1)[0].split()
            if len(words) >= 2 and words[0].upper() == 'BASIS_TYPE':
                return words[1].upper()
    return 'PIXEL_AUTO'


def record_basis(path: str, basis_type: str, output: str | None = None) -> None:
    """Write the configured basis type into the model header (``BASISTYP``).

    PSFEx does not record it; psfex_interp needs it to undo the resampling of
    models made without a basis. The model is rewritten atomically in place, or
    written to ``output`` when given.
    """
    with fits.open(path) as hdul:
        hdul[1].header['BASISTYP'] = (basis_type, 'PSFEx BASIS_TYPE (written by shapepipe)')
        if output is not None:
            hdul.writeto(output)
            return
        with atomic_path(path) as tmp:
            hdul.writeto(tmp)
