"""The exit statuses of every `kb` command, in one place (the README's "Exit status" paragraph).

0 success, 1 some input failed (a bad file, an unknown document, a score under a `--min-*`
threshold), 2 usage error (including missing or rejected credentials), 3 a service is unavailable
(the Chroma server, the model, Slack) or the index is still empty, 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    INPUT = 1
    USAGE = 2
    UNAVAILABLE = 3
    INTERRUPTED = 130


EXIT_OK = ExitCode.OK
EXIT_INPUT = ExitCode.INPUT
EXIT_USAGE = ExitCode.USAGE
EXIT_UNAVAILABLE = ExitCode.UNAVAILABLE
EXIT_INTERRUPTED = ExitCode.INTERRUPTED

__all__ = ["EXIT_INPUT", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_UNAVAILABLE", "EXIT_USAGE", "ExitCode"]
