"""Running Source Extractor on images."""
