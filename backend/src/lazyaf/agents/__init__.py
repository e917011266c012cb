"""The agents runners run (Claude Code, a command) and the model credentials they find."""
