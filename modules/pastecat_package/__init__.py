"""Pasting catalogues of the same objects into one multi-HDU file."""
