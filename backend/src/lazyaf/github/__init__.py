"""Everything that talks to GitHub. ``client.GitHubClient`` is the only importer of githubkit."""
