"""Neighbour masking (uberseg): the mask of a constructed two-object stamp,
its mapping from the tile segmentation onto a rotated exposure stamp, and
what the measurement does with the masked pixels."""

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from shapepipe.modules.ngmix_package import flags as F
from shapepipe.modules.ngmix_package.measure import Epochs, Settings, prepare
from shapepipe.modules.ngmix_package.uberseg import (TileSegmentation, neighbour_masks,
                                                     uberseg_mask)

N = 51
C = N // 2


def _disk(shape, x0, y0, radius):
    y, x = np.mgrid[:shape[0], :shape[1]]
    return (x - x0) ** 2 + (y - y0) ** 2 <= radius ** 2


def test_uberseg_mask_of_two_objects():
    """Own object (1) at the centre, neighbour (2) 12 pixels to the right,
    both with 3-pixel segmentation disks: the neighbour's pixels and the sky
    nearer to them are masked, the rest is kept; the boundary is half-way
    between the two footprints."""
    seg = np.zeros((N, N), int)
    seg[_disk(seg.shape, C, C, 3)] = 1
    seg[_disk(seg.shape, C + 12, C, 3)] = 2
    mask = uberseg_mask(seg, 1)
    assert not mask[seg == 1].any()
    assert mask[seg == 2].all()
    row = mask[C]
    assert not row[:C + 6].any() and row[C + 7:].all()      # edges at C+3 and C+9
    assert mask[0, -1] and not mask[0, 0] and not mask[-1, 0]
    # The neighbour's stamp is the mirror image.
    np.testing.assert_array_equal(uberseg_mask(seg, 2)[seg > 0], (seg == 1)[seg > 0])
    # An object missing from the map keeps its nearest pixels (own centre added).
    seg_missing = np.where(seg == 1, 0, seg)
    np.testing.assert_array_equal(uberseg_mask(seg_missing, 1)[C, :C + 4], False)
    assert uberseg_mask(seg_missing, 1)[C, C + 9:].all()
    # Alone in its stamp: nothing masked.
    assert not uberseg_mask(np.where(seg == 2, 0, seg), 1).any()


def _tile_segmentation(path, seg):
    """A tile segmentation image with a north-up TAN WCS, 0.187 arcsec pixels."""
    header = WCS(naxis=2)
    header.wcs.ctype = ['RA---TAN', 'DEC--TAN']
    header.wcs.crval = [150.0, 20.0]
    header.wcs.crpix = [(seg.shape[1] + 1) / 2, (seg.shape[0] + 1) / 2]
    header.wcs.cd = np.array([[-0.187, 0.0], [0.0, 0.187]]) / 3600
    fits.PrimaryHDU(seg.astype(np.int32), header=header.to_header()).writeto(path)
    return WCS(header.to_header())


def test_segmentation_is_mapped_onto_a_rotated_exposure_stamp(tmp_path):
    """The neighbour lies 12 tile pixels east (RA increasing) of the object.
    On an exposure read out rotated by 90 degrees (x north, y east) its
    masked pixels appear 12 pixels up the stamp's y axis."""
    tile = np.zeros((201, 201), int)
    tile[_disk(tile.shape, 100, 100, 3)] = 1
    tile[_disk(tile.shape, 88, 100, 3)] = 2          # tile x decreases eastwards
    wcs = _tile_segmentation(tmp_path / 'tile_segmentation.fits', tile)
    segmentation = TileSegmentation(str(tmp_path / 'tile_segmentation.fits'))
    ra, dec = (float(c[0]) for c in wcs.all_pix2world([101.0], [101.0], 1))
    # Exposure pixel x -> north (v), pixel y -> east (-u); same pixel scale.
    jac = np.array([[[0.0, -0.187], [0.187, 0.0]]])
    seg = segmentation.sample(ra, dec, jac, np.zeros((1, 2)), N)[0]
    assert seg[C, C] == 1
    assert seg[C + 12, C] == 2 and seg[C, C + 12] == 0 and seg[C - 12, C] == 0
    epochs = Epochs(image=np.zeros((1, N, N)), weight=np.ones((1, N, N)),
                    psf=np.ones((1, 5, 5)), jacobian=jac, offset=np.zeros((1, 2)),
                    start=np.array([0, 1]))
    masks = neighbour_masks(epochs, [1], {1: (ra, dec)}, segmentation)
    np.testing.assert_array_equal(masks[0], uberseg_mask(seg, 1))
    assert masks[0][C + 12, C] and not masks[0][C - 12, C]


def test_neighbour_pixels_get_zero_weight_and_noise():
    """Masked neighbour pixels: weight 0 and the pixel-tied noise ('noise'),
    or their light kept ('keep'); the epoch is flagged NEIGHBOURS_MASKED,
    which does not spoil the measurement."""
    rng = np.random.default_rng(3)
    image = rng.normal(0, 1, (1, N, N)) + 50.0 * _disk((N, N), C + 12, C, 3)[None]
    mask = np.zeros((1, N, N), bool)
    mask[0, :, C + 7:] = True
    common = dict(image=image, weight=np.ones((1, N, N)), psf=np.ones((1, 5, 5)),
                  jacobian=np.diag([0.187, 0.187])[None], offset=np.zeros((1, 2)),
                  start=np.array([0, 1]), background=np.zeros((1, N, N)),
                  epoch_key=np.array([7]), origin=np.array([[10, 20]]), neighbours=mask)
    noise_fill = prepare(Epochs(**common), [None], Settings(pixel_noise_seed=1))
    keep_fill = prepare(Epochs(**common), [None], Settings(pixel_noise_seed=1,
                                                           neighbour_fill='keep'))
    for img, weight, _, keep, flags in (noise_fill, keep_fill):
        assert (weight[mask] == 0).all() and (weight[~mask] == 1).all()
        assert keep[0] and flags[0] == F.NEIGHBOURS_MASKED
    assert np.abs(noise_fill[0][mask]).max() < 6            # the 50-count neighbour is gone
    assert noise_fill[0][mask].std() == pytest.approx(1.0, abs=0.05)
    np.testing.assert_array_equal(keep_fill[0][mask], image[mask])
    np.testing.assert_array_equal(noise_fill[0][~mask], image[~mask])
