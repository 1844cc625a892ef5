"""Stamp cutting: centring and padding at image edges."""

import galsim
import numpy as np
import pytest

from shapepipe.modules.vignetmaker_package.stamps import FLAG_OFF_IMAGE, MISSING_VALUE, cut_stamps


def test_star_stamp_is_centred():
    image = galsim.ImageF(200, 150, scale=0.187)
    x, y = 73.3, 88.8   # FITS pixel convention
    galsim.Moffat(beta=3, fwhm=0.7).drawImage(image=image, center=galsim.PositionD(x, y),
                                              add_to_image=True)
    stamp = cut_stamps(image.array, [x], [y], 21)[0]
    moments = galsim.hsm.FindAdaptiveMom(galsim.Image(stamp, xmin=1, ymin=1))
    # The stamp's centre pixel (11, 11) holds the pixel containing (x, y).
    assert abs(moments.moments_centroid.x - 11 - (x - np.floor(x + 0.5))) < 0.05
    assert abs(moments.moments_centroid.y - 11 - (y - np.floor(y + 0.5))) < 0.05


def test_edges_are_padded_not_wrapped():
    data = np.arange(100, dtype=np.float32).reshape(10, 10)
    stamp = cut_stamps(data, [1.0], [1.0], 5)[0]
    assert (stamp[:2, :] == MISSING_VALUE).all() and (stamp[:, :2] == MISSING_VALUE).all()
    assert stamp[2, 2] == data[0, 0] and stamp[4, 4] == data[2, 2]
    flags = np.zeros((10, 10), np.int16)
    flag_stamp = cut_stamps(flags, [10.0], [5.0], 5)[0]
    assert (flag_stamp[:, 3:] == FLAG_OFF_IMAGE).all() and (flag_stamp[:, :3] == 0).all()
    far = cut_stamps(data, [500.0], [500.0], 5)[0]
    assert (far == MISSING_VALUE).all()
    with pytest.raises(ValueError, match='odd'):
        cut_stamps(data, [1.0], [1.0], 4)
