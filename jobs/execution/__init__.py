"""How a deploy runs commands: its context, the one runner, and its log."""
