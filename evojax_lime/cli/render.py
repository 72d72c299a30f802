"""The pictures the command line writes; they are drawn by :mod:`evojax_lime.render`, shared with notebooks."""
from evojax_lime.render import (HIDDEN_BRIGHTNESS, masked_input, overlay, save_fitness_plot, save_png, save_sizes,
                                upscale_labels)

__all__ = ["HIDDEN_BRIGHTNESS", "masked_input", "overlay", "save_fitness_plot", "save_png", "save_sizes",
           "upscale_labels"]
