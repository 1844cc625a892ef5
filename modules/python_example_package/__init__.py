"""Science code of the example modules: joining small text files."""
