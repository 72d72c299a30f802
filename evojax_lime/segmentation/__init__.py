"""Superpixels: cut on the host with scikit-image, or in JAX inside the compiled program."""
