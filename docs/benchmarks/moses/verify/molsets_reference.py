"""molsets 0.3.1's get_all_metrics on a SMILES file: the reference side of the verification.

Run in a separate environment (molsets pins old packages; tested with Python 3.11, torch 2.13.0
CPU, fcd_torch 1.0.7, molsets 0.3.1 installed with --no-deps, rdkit 2026.9.1, numpy 2.4, pandas
3.1, scipy, matplotlib, seaborn, tqdm). Three shims for today's libraries, none touching a
metric: DataFrame.append (removed in pandas 2), np.NaN (removed in numpy 2), rdkit.six (used
only by the SA score of the property metrics).

    python molsets_reference.py SAMPLES.smi N_REF OUT.json   # first N_REF of each test set
    python molsets_reference.py SAMPLES.smi 0 OUT.json       # MOSES defaults: full sets
"""

import json
import sys
import time
import types
from pathlib import Path

import numpy as np
import pandas as pd

pd.DataFrame.append = lambda self, other, sort=False, **kw: pd.concat([self, other], sort=sort)
np.NaN = np.nan
six = types.ModuleType("rdkit.six")
six.iteritems = lambda d: iter(d.items())
sys.modules["rdkit.six"] = six

import torch  # noqa: E402

torch.set_num_threads(1)
from moses.dataset import get_dataset  # noqa: E402
from moses.metrics.metrics import get_all_metrics  # noqa: E402

samples, n_ref, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
gen = [line.strip() for line in Path(samples).read_text().splitlines()]
kwargs = {}
if n_ref:
    kwargs = {
        "test": list(get_dataset("test")[:n_ref]),
        "test_scaffolds": list(get_dataset("test_scaffolds")[:n_ref]),
        "train": list(get_dataset("train")),
    }
t = time.time()
res = {k: float(v) for k, v in get_all_metrics(gen, k=[1000, 10000], n_jobs=1, **kwargs).items()}
res["wall_s"] = time.time() - t
Path(out).write_text(json.dumps(res, indent=1) + "\n")
print(json.dumps(res, indent=1))
