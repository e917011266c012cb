"""Test doubles for LazyAF's suites, built from the outside world's own official data."""
