"""Drop-in interfaces of other explainers' packages, computed by this engine.

``from evojax_lime.compat import lime_image`` replaces ``from lime import lime_image``.
"""
from evojax_lime.compat import lime_image

__all__ = ["lime_image"]
