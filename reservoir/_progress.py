"""The progress bar of long runs (tqdm, imported only when a bar is asked for)."""


def progress_bar(total: int, enabled: bool, desc: str = "reservoir"):
    """A tqdm bar over `total` steps, or None when not `enabled`."""
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="step", desc=desc, leave=False)
