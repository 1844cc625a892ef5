"""Adaptive-moment (HSM) shapes of stamps: shared with other PSF modules from
:mod:`shapepipe.psf.shapes`."""

from shapepipe.psf.shapes import (  # noqa: F401 (re-exported)
    FLAG_HSM_FAILED, FLAG_NO_DATA, MASKED_VALUE, hsm_shapes, psf_store_entries,
)
