"""Reading a small text file the user points us at (config, `.env`, pipeline) without surprises.

A FIFO would hang a plain read, `/dev/zero` would fill memory, a gigabyte file would be parsed
whole: only regular files are read, and only up to a cap.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MAX_TEXT_FILE_BYTES = 1_000_000


class TextFileError(ValueError):
    """The file cannot be read as a small UTF-8 text file; the message says why in a few words."""


def read_text_file(path: Path, limit: int = MAX_TEXT_FILE_BYTES) -> str:
    """The file's text; FileNotFoundError when absent, TextFileError for anything unusable.

    /dev/null reads as empty, so it can stand for "no file".
    """
    if str(path) == os.devnull:
        return ""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise TextFileError(f"cannot read it ({exc.strerror or exc.__class__.__name__})") from None
    if not stat.S_ISREG(info.st_mode):
        raise TextFileError("not a regular file")
    if info.st_size > limit:
        raise TextFileError(f"larger than {limit:,} bytes")
    try:
        # O_NONBLOCK: a path swapped for a FIFO since stat must not wait for a writer.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise TextFileError("not a regular file")
            data = f.read(limit + 1)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise TextFileError(f"cannot read it ({exc.strerror or exc.__class__.__name__})") from None
    if len(data) > limit:
        raise TextFileError(f"larger than {limit:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TextFileError(f"not valid UTF-8 (byte {exc.start})") from None
