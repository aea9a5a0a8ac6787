"""The run store: every race and pipeline pass kept in one SQLite file.

Saving is blocking I/O: call `save` from a worker thread (never on an event loop). Every
failure of the store is a `StoreError` with a one-line message; a race is never lost
because its saving failed, since the caller still holds it.
"""

from providers.store.db import StoreError, default_path
from providers.store.races import (
    StoredRace,
    Summary,
    UnknownRace,
    delete,
    from_pipeline,
    from_race,
    history,
    load,
    save,
    save_many,
)
from providers.store.schema import LATEST

__all__ = [
    "LATEST",
    "StoreError",
    "StoredRace",
    "Summary",
    "UnknownRace",
    "default_path",
    "delete",
    "from_pipeline",
    "from_race",
    "history",
    "load",
    "save",
    "save_many",
]
