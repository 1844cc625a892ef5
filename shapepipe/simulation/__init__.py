"""A CFIS-like image simulator with a truth catalogue.

It writes single-exposure MegaCam mosaics and tiles in CFIS raw naming, the
bright-star catalogues the mask module reads, and ``truth.fits``, so that the
pipeline can run end to end and be validated without real data.
"""
