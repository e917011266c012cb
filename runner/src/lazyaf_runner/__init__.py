"""The LazyAF runner: connects to a LazyAF server, runs agent jobs, pushes branches back."""

__version__ = "0.1.0"
