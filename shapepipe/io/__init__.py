"""Shared input/output: every file one module writes and another reads has its
owner here (layout, writer, reader; see docs/formats.md).

* :mod:`.stores`: the pickle-free value encoding of the sqlite stores;
* :mod:`.epochs`: per-object multi-epoch stores (stamps, PSFs) and the tile's epochs;
* :mod:`.exposure_headers`: ``headers<num>.npy`` and ``log_exp_headers.sqlite``;
* :mod:`.ngmix_catalog`: ``ngmix<num>.fits`` (schema in one place);
* :mod:`.final_catalog`: ``final_cat<num>.fits``;
* :mod:`.star_catalog`: ``findgsc2.2`` star catalogues and the online query;
* :mod:`.atomic`: writes that never leave a half-written file.
"""
