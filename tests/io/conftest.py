"""Helpers of the format tests: a SIP WCS as split_exp makes, and a pickle
payload that creates a file when unpickled."""

import pytest
from astropy.io import fits
from astropy.wcs import WCS


def make_sip_wcs():
    """A SIP WCS like split_exp's (TAN-SIP, pixel shape set)."""
    header = fits.Header()
    header.update(NAXIS=2, NAXIS1=2048, NAXIS2=4612, CTYPE1='RA---TAN-SIP',
                  CTYPE2='DEC--TAN-SIP', CRVAL1=255.6612345678901, CRVAL2=34.0512345678901,
                  CRPIX1=1024.5, CRPIX2=2306.5, CD1_1=-5.1944e-05, CD1_2=1.3e-08,
                  CD2_1=-1.1e-08, CD2_2=5.1944e-05, A_ORDER=2, B_ORDER=2,
                  A_2_0=1.234567890123e-07, A_0_2=-2.2e-08, B_1_1=3.3e-08, B_2_0=1.1e-09)
    return WCS(header)


class FilePayload:
    """Unpickling this creates ``path`` (what a crafted store would do)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, 'w'))


@pytest.fixture
def sip_wcs():
    """A function returning a new SIP WCS."""
    return make_sip_wcs


@pytest.fixture(name='Payload')
def payload_class():
    """The payload class: ``Payload(path)`` creates ``path`` when unpickled."""
    return FilePayload
