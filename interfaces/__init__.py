"""Interfaces: the `kb` command line, the terminal chat and the Slack bot — thin layers over answer()."""
