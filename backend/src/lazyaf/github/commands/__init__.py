"""Commands from GitHub comments (see runs.py for the seam to the work they start)."""
