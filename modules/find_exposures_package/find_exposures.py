"""The exposures a tile was stacked from, from its header's HISTORY cards."""

import re

from astropy.io import fits

from shapepipe.errors import InputError

# CFIS HISTORY cards name each input exposure, e.g. "HISTORY  2113737p.fits ..."
_EXPOSURE = re.compile(r'\b(\d{6,8})p\b')


def exposures_from_header(path):
    """Exposure names (``2113737p``) listed in a tile's HISTORY, in order."""
    try:
        header = fits.getheader(path)
    except (OSError, ValueError) as error:
        raise InputError(f'{path}: cannot read the header ({error})', path=path) from None
    names = []
    for card in header.get('HISTORY', []):
        for number in _EXPOSURE.findall(str(card)):
            if number + 'p' not in names:
                names.append(number + 'p')
    return names
