"""Shared input/output: atomic writes, FITS and FITS_LDAC catalogues, sqlite stores."""
