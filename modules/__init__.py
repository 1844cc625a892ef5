"""Runner modules: one ``<name>_runner.py`` per module and its science code in ``<name>_package/``."""
