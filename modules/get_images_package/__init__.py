"""Retrieving input images (symbolic links or VOSpace) under pipeline names."""
