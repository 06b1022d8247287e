"""Past one machine on Dask's distributed scheduler: harvests over many sequences, sharded states, one reduction.

``connect`` gives a client (a scheduler's address, or a local cluster); ``harvest`` runs
a model over many sequences on the workers, one shard file per task and an index that
reads them as one run; ``fit_ridge`` fits the ridge readout from every shard's
statistics, or from statistics the workers compute while running the model
(``fit_ridge(model, inputs, targets)``: nothing stored), summed in a tree. Needs
``pip install 'reservoir-engine[distributed]'``; ``import reservoir`` does not import
this package.
"""

from .client import connect
from .harvest import Harvest, Shard, harvest
from .index import check_index
from .reduce import fit_ridge, shard_statistics, tree_reduce
from .shards import ShardError, ShardIdentity, model_fingerprint

__all__ = [
    "connect",
    "harvest",
    "Harvest",
    "Shard",
    "fit_ridge",
    "tree_reduce",
    "shard_statistics",
    "check_index",
    "ShardError",
    "ShardIdentity",
    "model_fingerprint",
]
