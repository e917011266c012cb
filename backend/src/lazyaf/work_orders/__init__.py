"""Work orders: seed 001's API (one request, one workflow run on a repo) as a view over cards and runs."""
