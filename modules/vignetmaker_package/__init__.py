"""Postage stamps (vignets) of images at catalogue positions."""
