"""User input quoted back in error messages: control bytes escaped, length capped.

An error line goes to a terminal: a raw ESC in a typo would restyle it, a newline would split
it, and a 10 KB argument would bury the reason. Every error that quotes what the user typed
goes through `quote`, and the command line passes the whole line through `error_line`.
"""

from __future__ import annotations

QUOTE_LIMIT = 60
LINE_LIMIT = 400


def quote(text: object, limit: int = QUOTE_LIMIT) -> str:
    """`repr`-style quoting (control and non-printable characters escaped), cut at `limit`."""
    if not isinstance(text, str):
        shown = repr(text)
        return shown if len(shown) <= limit else shown[: limit - 1] + "…"
    if len(text) <= limit:
        return repr(text)
    shown = repr(text[:limit])
    return f"{shown[:-1]}…{shown[-1]} ({len(text)} characters)"


def escape_controls(text: str) -> str:
    """Every non-printable character (ESC, newline, bidi overrides…) as its escape sequence."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def error_line(text: str, limit: int = LINE_LIMIT) -> str:
    """One terminal-safe line: the last guard before an error message is printed."""
    line = escape_controls(str(text))
    return line if len(line) <= limit else line[: limit - 1] + "…"
