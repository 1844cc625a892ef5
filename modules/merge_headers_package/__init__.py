"""Merging per-exposure WCS headers into one sqlite store."""
