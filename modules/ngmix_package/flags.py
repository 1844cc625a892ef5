"""Per-object flag bits of the shape measurement, with their names.

Written into ``ngmix{num}.fits``: ``flags`` (per metacal type: the fit's
bits), ``mcal_flags`` (per object: failures, i.e. the object-level failure
bits OR all types' bits; ``mcal_flags == 0`` is the usual cut) and
``epoch_flags`` (per object: what happened to its epochs, :data:`INFO` bits
that do not spoil the measurement).
"""

from __future__ import annotations

NO_EPOCH = 1 << 0           # no usable epoch: no stamp, all pixels masked or no PSF
EPOCH_MASKED = 1 << 1       # an epoch was dropped: all its pixels masked or zero weight
PSF_MISSING = 1 << 2        # an epoch was dropped: its PSF is missing or not finite
BAD_PIXELS = 1 << 3         # NaN / infinite / masked pixels were replaced by noise
PSF_FIT_FAILED = 1 << 4     # the Gaussian fit of an epoch's original PSF failed
FIT_NO_CONVERGE = 1 << 5    # the galaxy fit did not converge
FIT_SINGULAR = 1 << 6       # the galaxy fit's covariance is singular or not positive
FIT_BAD_MODEL = 1 << 7      # the fit left the valid parameter space (|g| >= 1, T + Tpsf <= 0)
NEG_FLUX = 1 << 8           # fitted flux <= 0 (magnitudes are defaults)
NON_FINITE = 1 << 9         # NaN or infinity in the data or the fit
MOMENTS_FAILED = 1 << 10    # adaptive moments failed (measurement = 'moments')
OUT_OF_RANGE = 1 << 11      # object id outside [ID_OBJ_MIN, ID_OBJ_MAX] (not measured)
NEIGHBOURS_MASKED = 1 << 12  # pixels of neighbours (uberseg) were replaced by noise (benign)
NOT_DETECTED = 1 << 13      # metadetect: not detected on this metacal image (any epoch)

NAMES = {
    NO_EPOCH: 'NO_EPOCH', EPOCH_MASKED: 'EPOCH_MASKED', PSF_MISSING: 'PSF_MISSING',
    BAD_PIXELS: 'BAD_PIXELS', PSF_FIT_FAILED: 'PSF_FIT_FAILED',
    FIT_NO_CONVERGE: 'FIT_NO_CONVERGE', FIT_SINGULAR: 'FIT_SINGULAR',
    FIT_BAD_MODEL: 'FIT_BAD_MODEL', NEG_FLUX: 'NEG_FLUX', NON_FINITE: 'NON_FINITE',
    MOMENTS_FAILED: 'MOMENTS_FAILED', OUT_OF_RANGE: 'OUT_OF_RANGE',
    NEIGHBOURS_MASKED: 'NEIGHBOURS_MASKED', NOT_DETECTED: 'NOT_DETECTED',
}

# Bits about epochs that leave a valid measurement (in ``epoch_flags`` only).
INFO = EPOCH_MASKED | PSF_MISSING | BAD_PIXELS | NEIGHBOURS_MASKED

# Bits that mean "no usable shape" for this object (NEG_FLUX etc. keep a shape).
FATAL = (NO_EPOCH | FIT_NO_CONVERGE | FIT_SINGULAR | FIT_BAD_MODEL | NON_FINITE
         | MOMENTS_FAILED | NOT_DETECTED)


def flag_names(value: int) -> list[str]:
    """Names of the bits set in ``value``, e.g. ``['PSF_MISSING', 'NEG_FLUX']``."""
    return [name for bit, name in sorted(NAMES.items()) if int(value) & bit]
