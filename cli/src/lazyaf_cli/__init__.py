"""The `lazyaf` command line: serve, ingest, land, repos."""

__version__ = "0.1.0"
