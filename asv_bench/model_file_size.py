"""Size and save/load time of two model files (docs/user_guide/model_file.rst, "Size and speed").

Run from the repository root: ``python asv_bench/model_file_size.py``. Five saves and
loads each; median [min-max]. The pickle size is printed for comparison only.
"""

import os
import pickle
import shutil
import statistics
import tempfile
import time

import numpy as np

import reservoir as rs
from reservoir.io import load, save

series = np.sin(np.arange(5001) * 0.05)[:, None]
model = rs.ESNRegressor(units=1000, seed=0).fit(series[:-1], series[1:])
lsm = rs.lsm.cuba(seed=0)
lsm.run(n_steps=100)
for name, obj in (("ESNRegressor(units=1000), fitted", model), ("lsm.cuba(), after 100 steps", lsm)):
    folder = tempfile.mkdtemp()
    path = os.path.join(folder, "model.h5")
    saves, loads = [], []
    for _ in range(5):
        t = time.perf_counter()
        save(obj, path)
        saves.append(time.perf_counter() - t)
        t = time.perf_counter()
        load(path)
        loads.append(time.perf_counter() - t)
    print(
        f"{name}: file {os.path.getsize(path) / 1e6:.2f} MB (pickle {len(pickle.dumps(obj)) / 1e6:.2f} MB); "
        f"save {statistics.median(saves) * 1e3:.0f} ms [{min(saves) * 1e3:.0f}-{max(saves) * 1e3:.0f}], "
        f"load {statistics.median(loads) * 1e3:.0f} ms [{min(loads) * 1e3:.0f}-{max(loads) * 1e3:.0f}]"
    )
    shutil.rmtree(folder)
