"""Merging catalogues measured in pieces by separate pipeline runs."""
