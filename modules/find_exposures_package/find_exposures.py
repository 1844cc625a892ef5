"""The exposures a tile was stacked from, from its header's HISTORY cards
(:func:`shapepipe.cfis.exposures_from_header`, shared with sextractor's
post-processing)."""

from shapepipe.cfis import exposures_from_header  # noqa: F401
