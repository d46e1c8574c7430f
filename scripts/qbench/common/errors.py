"""The errors a command reports as one line, `qbench: error: …`, each with the exit status it maps to.

Every module raises its own kind (a Q format, a target file, a results folder …); the command line catches this
family once and exits with the kind's status.
"""

from __future__ import annotations


class QbenchError(Exception):
    """Nothing could start: a malformed value, input file or folder (exit status 2)."""

    status = 2


class UsageError(QbenchError):
    """The request cannot run as given: the message says why."""


class OutputError(QbenchError):
    """The work ran but its output could not be written; the previous output is kept (exit status 1)."""

    status = 1
