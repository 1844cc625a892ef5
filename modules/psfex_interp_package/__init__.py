"""Evaluating PSFEx models at positions and measuring PSF shapes."""
