"""The spread model star/galaxy classifier."""
