"""Explainers the engine is compared with, computed on its own superpixels and evaluation."""
