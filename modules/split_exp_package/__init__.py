"""Splitting single-exposure mosaics into one file per CCD."""
