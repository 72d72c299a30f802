"""Search strategies over superpixel masks, each pure ``init`` / ``ask`` / ``tell`` (see :mod:`.base`)."""
from evojax_lime.strategies.base import Strategy
from evojax_lime.strategies.extremal import Extremal, ExtremalState
from evojax_lime.strategies.ga import GA, GAState
from evojax_lime.strategies.kernelshap import KernelShap, KernelShapState
from evojax_lime.strategies.lime_sampling import LimeSampling
from evojax_lime.strategies.nsga2 import NSGA2, NSGA2State

STRATEGIES = {cls.name: cls for cls in (GA, NSGA2, KernelShap, Extremal)}  # by name; LimeSampling is built by explain_lime

__all__ = ["Extremal", "ExtremalState", "GA", "GAState", "KernelShap", "KernelShapState", "LimeSampling", "NSGA2", "NSGA2State", "STRATEGIES", "Strategy"]
