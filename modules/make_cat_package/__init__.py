"""Assembling the final shear catalogue of a tile."""
