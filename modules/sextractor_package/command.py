"""Building the Source Extractor command line and naming its outputs."""

import os

from astropy.io import fits

from shapepipe.errors import InputError

NNW_CANDIDATES = ('/usr/share/source-extractor/default.nnw', '/usr/share/sextractor/default.nnw')
CHECK_TYPES = ('BACKGROUND', 'BACKGROUND_RMS', 'INIBACKGROUND', 'MINIBACK_RMS', '-BACKGROUND',
               'FILTERED', 'OBJECTS', '-OBJECTS', 'SEGMENTATION', 'APERTURES')


def output_names(output_dir, prefix, number, check_types):
    """Catalogue ``{prefix_}sexcat{num}.fits`` and check images ``{prefix_}{type}{num}.fits``."""
    lead = f'{prefix}_' if prefix else ''
    catalog = os.path.join(output_dir, f'{lead}sexcat{number}.fits')
    checks = [os.path.join(output_dir, f'{lead}{t.lower().replace("-", "minus_")}{number}.fits')
              for t in check_types]
    return catalog, checks


def header_value(path, key):
    """A keyword of an image's header (primary, else first extension)."""
    with fits.open(path) as hdul:
        for hdu in hdul:
            if key in hdu.header:
                return hdu.header[key]
    raise InputError(f'{path} has no {key} keyword: set ZP_FROM_HEADER/BKG_FROM_HEADER = False '
                     f'or fix ZP_KEY/BKG_KEY', path=path)


def build_command(executable, image, catalog, dot_sex, dot_param, dot_conv, weight=None,
                  flag=None, psf=None, detection_image=None, detection_weight=None,
                  zero_point=None, background=None, check_types=(), check_names=()):
    """The argument list of one Source Extractor run (dual-image mode when a
    detection image is given)."""
    for path, what in ((dot_sex, 'DOT_SEX_FILE'), (dot_param, 'DOT_PARAM_FILE'),
                       (dot_conv, 'DOT_CONV_FILE')):
        if path and not os.path.isfile(path):
            raise InputError(f'{what} {path} not found: fix the path in the config', path=path)
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
