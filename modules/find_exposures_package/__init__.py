"""Finding the exposures that made a tile."""
