"""Merging PSF validation catalogues of all CCDs."""
