"""Conflict prediction between a repo's parallel cards (AGENTS.md beside this file says how)."""
