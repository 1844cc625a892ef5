"""Uncompressing tile-compressed FITS images."""
