"""The pipeline core: configuration, file matching, run directories and job execution."""
