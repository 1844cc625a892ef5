"""Shear calibration of metacalibration catalogues (used by shapepipe_shear_bias)."""
