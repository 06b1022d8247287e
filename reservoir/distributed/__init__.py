"""Past one machine on Dask's distributed scheduler: harvests over many sequences, sharded states, one reduction."""

__all__: list[str] = []
