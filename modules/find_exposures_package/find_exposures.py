"""The exposures a tile was stacked from, from its header's HISTORY cards
(:func:`shapepipe.cfis.exposures_from_header`, shared with sextractor's
post-processing), with ShapePipe's ``COLNUM`` and ``EXP_PREFIX``."""

from __future__ import annotations

from astropy.io import fits

from shapepipe.cfis import exposures_from_header as exposures_in_history
from shapepipe.errors import InputError


def _from_column(text, column):
    """The file named in the ``column``-th space-separated field, up to its last
    dot (as ShapePipe), or None."""
    fields = text.split(' ')
    if column >= len(fields) or '.' not in fields[column]:
        return None
    return fields[column].rsplit('.', 1)[0]


def exposures_from_header(path: str, column: int | None = None, prefix: str = '') -> list[str]:
    """Exposure names (``2113737p``) listed in a tile's HISTORY, in order.

    Parameters
    ----------
    path : str
        Tile image.
    column : int, optional
        ShapePipe's ``COLNUM``: the index of the file name among the
        space-separated fields of a HISTORY card (CFIS: 3). None: any
        ``NNNNNNNp`` word of the card (a card without the field is skipped).
    prefix : str
        ShapePipe's ``EXP_PREFIX``, removed from the names.
    """
    if column is None:
        found = exposures_in_history(path)
    else:
        try:
            header = fits.getheader(path)
        except (OSError, ValueError) as error:
            raise InputError(f'{path}: cannot read the header ({error})', path=path) from None
        found = [_from_column(str(card), column) for card in header.get('HISTORY', [])]
    names = []
    for name in found:
        if name and prefix and name.startswith(prefix):
            name = name[len(prefix):]
        if name and name not in names:
            names.append(name)
    return names
