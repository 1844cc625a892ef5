"""Random catalogues that follow a tile's footprint and mask."""
