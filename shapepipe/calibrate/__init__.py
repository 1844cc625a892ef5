"""End-to-end shear calibration on simulated twin (+g/-g) fields (``shapepipe_calibrate``)."""
