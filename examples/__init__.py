"""Before/after migration examples and the binaries that run them."""
