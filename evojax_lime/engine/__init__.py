"""The engine: one preparation path, the compiled program and its cache, and the Search that drives it."""
