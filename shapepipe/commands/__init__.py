"""Entry points of the helper commands (``shapepipe_simulate``, ``cfis_field_select``, ...)."""
