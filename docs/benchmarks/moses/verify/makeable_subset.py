"""makeable's MOSES metrics on a SMILES file against the first N_REF molecules of each MOSES
test set (statistics computed from the files), for comparison with molsets_reference.py.

    MAKEABLE_DATA=DATA python makeable_subset.py SAMPLES.smi N_REF OUT.json
"""

import json
import os
import sys
import time
from pathlib import Path

import torch

from makeable.generative import chemnet as cn
from makeable.generative.moses import compute_reference, evaluate, read_smiles_csv

torch.set_num_threads(1)
samples, n_ref, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
moses = Path(os.environ["MAKEABLE_DATA"]) / "molecules" / "moses"
gen = [line.strip() for line in Path(samples).read_text().splitlines()]
test = read_smiles_csv(moses / "test.csv.gz", n_ref)
testsf = read_smiles_csv(moses / "test_scaffolds.csv.gz", n_ref)
train = set(read_smiles_csv(moses / "train.csv.gz"))
model = cn.load_chemnet()
t = time.time()
refs = [
    compute_reference("test", test, model=model),
    compute_reference("test_scaffolds", testsf, model=model),
]
own, per_ref, _ = evaluate(gen, train, refs, model=model)
res = dict(own)
for name, values in per_ref.items():
    res.update({f"{k}/{name}": v for k, v in values.items()})
res["wall_s"] = time.time() - t
Path(out).write_text(json.dumps(res, indent=1) + "\n")
print(json.dumps(res, indent=1))
