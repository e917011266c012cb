"""LazyAF: a local Kanban board that turns cards into work done by AI coding agents."""

__version__ = "0.1.0"
