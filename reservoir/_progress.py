"""What a long call tells its user while it works: the progress bar of long runs (tqdm,
imported only when a bar is asked for) and the note before a long kernel compilation."""

import logging
import sys

from .config import settings

log = logging.getLogger("reservoir")


def progress_bar(total: int, enabled: bool, desc: str = "reservoir"):
    """A tqdm bar over `total` steps, or None when not `enabled`."""
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="step", desc=desc, leave=False)


def compile_note(message: str) -> None:
    """Say that a long compilation starts: logged at INFO on the ``reservoir`` logger, and one
    line on stderr while ``settings.compile_notes`` is on (a first call would otherwise look hung)."""
    log.info(message)
    if settings.compile_notes:
        print(f"reservoir: {message}", file=sys.stderr, flush=True)
