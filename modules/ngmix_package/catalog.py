"""``ngmix{num}.fits``: the format is owned by :mod:`shapepipe.io.ngmix_catalog`
(HDUs ``1M 1P 2M 2P NOSHEAR``, columns, integer columns); these names are
kept for callers of this module. Pieces measured by ID range are merged by
``merge_sep_cats_runner``."""

from shapepipe.io.ngmix_catalog import (  # noqa: F401
    COLUMNS, HDU_ORDER, INT_COLUMNS, concatenate_tables, empty_tables, read_ngmix_catalog,
    write_ngmix_catalog,
)
