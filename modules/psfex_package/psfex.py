"""PSFEx command line and the check of its result."""

import os

from astropy.io import fits

from shapepipe.errors import InputError, ModuleError
from shapepipe.io.atomic import atomic_path


def psf_path(output_dir, star_catalog):
    """PSFEx names its model after the input catalogue: ``<basename>.psf``."""
    base = os.path.splitext(os.path.basename(star_catalog))[0]
    return os.path.join(output_dir, base + '.psf')


def build_command(executable, star_catalog, dot_psfex, output_dir, out_catalog, cwd=None):
    """PSFEx arguments: model into ``output_dir``, no check plots or images
    (relative paths are relative to ``cwd``, the directory PSFEx runs in)."""
    full = os.path.join(cwd or '', dot_psfex)
    if not os.path.isfile(full):
        raise InputError(f'DOT_PSFEX_FILE {os.path.normpath(full)} not found: fix the path in '
                         f'the config', path=full)
    return [executable, star_catalog, '-c', dot_psfex, '-PSF_DIR', output_dir,
            '-OUTCAT_TYPE', 'FITS_LDAC', '-OUTCAT_NAME', out_catalog,
            '-CHECKPLOT_TYPE', 'NONE', '-CHECKIMAGE_TYPE', 'NONE', '-WRITE_XML', 'N',
            '-VERBOSE_TYPE', 'QUIET']


def check_star_catalog(path, min_stars):
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


def check_model(path, stderr):
    """The number of accepted stars of a written model."""
    if not os.path.isfile(path):
        raise ModuleError(f'PSFEx wrote no model {path}: {stderr.strip()[-300:]}', path=path)
    with fits.open(path) as hdul:
        header = hdul[1].header
        return header.get('ACCEPTED', 0), header.get('CHI2', float('nan'))


def configured_basis(dot_psfex):
    """``BASIS_TYPE`` of a ``.psfex`` configuration (PSFEx's default PIXEL_AUTO if absent)."""
    with open(dot_psfex) as config:
        for line in config:
            words = line.split('#', 1)[0].split()
            if len(words) >= 2 and words[0].upper() == 'BASIS_TYPE':
                return words[1].upper()
    return 'PIXEL_AUTO'


def record_basis(path, basis_type, output=None):
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
