"""SETools: a small selection language over SExtractor catalogues (masks,
plots, statistics, random splits, new catalogues)."""
