"""The exposures a tile was stacked from, from its header's HISTORY cards."""

import re

from astropy.io import fits

from shapepipe.errors import InputError

# CFIS HISTORY cards name each input exposure, e.g. "HISTORY  2113737p.fits ..."
_EXPOSURE = re.compile(r'\b(\d{6,8})p\b')


def _from_column(text, column, prefix):
    """The exposure named in the ``column``-th space-separated field, or None.

    As ShapePipe: the field up to its last dot, without ``prefix``.
    """
    fields = text.split(' ')
    if column >= len(fields) or '.' not in fields[column]:
        return None
    name = fields[column].rsplit('.', 1)[0]
    return name[len(prefix):] if prefix and name.startswith(prefix) else name


def exposures_from_header(path, column=None, prefix=''):
    """Exposure names (``2113737p``) listed in a tile's HISTORY, in order.

    Parameters
    ----------
    path : str
        Tile image.
    column : int, optional
        ShapePipe's ``COLNUM``: the index of the file name among the
        space-separated fields of a HISTORY card (CFIS: 3). None: any
        ``NNNNNNNp`` word of the card.
    prefix : str
        ShapePipe's ``EXP_PREFIX``, removed from the names.
    """
    try:
        header = fits.getheader(path)
    except (OSError, ValueError) as error:
        raise InputError(f'{path}: cannot read the header ({error})', path=path) from None
    names = []
    for card in header.get('HISTORY', []):
        if column is None:
            found = [number + 'p' for number in _EXPOSURE.findall(str(card))]
            if prefix:
                found = [name[len(prefix):] if name.startswith(prefix) else name
                         for name in found]
        else:
            name = _from_column(str(card), column, prefix)
            found = [name] if name else []
        names.extend(name for name in found if name not in names)
    return names
