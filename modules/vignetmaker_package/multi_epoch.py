"""MULTI-EPOCH stamps: for each tile object and each epoch it lies on, the
stamp cut from that exposure's CCD file, stored as
``{NUMBER: {'<exp>-<ccd>': {'VIGNET': stamp}}}`` or ``'empty'``."""

import os

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from sqlitedict import SqliteDict

from shapepipe.errors import InputError
from shapepipe.io.atomic import atomic_path
from shapepipe.modules.psfex_interp_package.multi_epoch import read_epochs
from shapepipe.modules.vignetmaker_package.stamps import cut_stamps


def find_ccd_file(directory, pattern, exposure, ccd):
    """``{directory}/{pattern}-{exposure}-{ccd}.fits`` or None."""
    path = os.path.join(directory, f'{pattern}-{exposure}-{ccd}.fits')
    return path if os.path.isfile(path) else None


def multi_epoch_stamps(catalog_path, directory, pattern, headers, output_path, size,
                       world_position=('XWIN_WORLD', 'YWIN_WORLD'), log=None):
    """Write one pattern's store; return (objects, stamps written, stamps missing)."""
    numbers, objects, epochs = read_epochs(catalog_path)
    ra = np.asarray(objects[world_position[0]], float)
    dec = np.asarray(objects[world_position[1]], float)
    result = {str(n): {} for n in numbers}
    written = missing = 0
    for exposure_names, ccds in epochs:
        if not len(ccds):
            continue
        exposure = str(exposure_names[0]).strip()
        wcs_of = {entry['ccd']: entry['WCS'] for entry in headers.get(exposure, [])}
        for ccd in np.unique(ccds[ccds >= 0]):
            rows = np.flatnonzero(ccds == ccd)
            path = find_ccd_file(directory, pattern, exposure, ccd)
            if path is None or ccd not in wcs_of:
                missing += len(rows)
                continue
            try:
                data = fits.getdata(path)
            except (OSError, ValueError) as error:
                raise InputError(f'{path}: cannot read ({error})', path=path) from None
            wcs = wcs_of[ccd] if isinstance(wcs_of[ccd], WCS) else WCS(wcs_of[ccd])
            x, y = wcs.all_world2pix(ra[rows], dec[rows], 1)
            stamps = cut_stamps(data, x, y, size)
            key = f'{exposure}-{ccd}'
            for k, row in enumerate(rows):
                result[str(numbers[row])][key] = {'VIGNET': stamps[k]}
            written += len(rows)
    with atomic_path(output_path) as tmp:
        with SqliteDict(tmp, autocommit=False) as store:
            for number, value in result.items():
                store[number] = value if value else 'empty'
            store.commit()
    if missing and log:
        log.warning('%s: %d object-epochs without a %s file (left out)', output_path, missing,
                    pattern)
    return len(result), written, missing
