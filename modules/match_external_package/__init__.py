"""Matching catalogues to an external catalogue on the sky."""
