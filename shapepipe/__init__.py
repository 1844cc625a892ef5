"""shapepipe: a weak-lensing shape-measurement pipeline for CFIS/UNIONS images."""

__version__ = '1.1.0.dev0'
