"""Validity of prompted and free samples (the numbers of pmo.md's fragment RAG section).

    MAKEABLE_DATA=../shared/data python docs/benchmarks/pmo/prompt_validity.py [SAFE_MODEL_DIR]

1. The shipped SMILES prior prompted with 300 arms (BRICS fragments with one attachment point)
   of the first 3,000 ZINC250k molecules, written by ``safe.arm_prefix``: how many completions
   are molecules, and how many of those hold their arm.
2. With a SAFE model folder: 300 free samples, without and with ``close_rings``.
"""

from __future__ import annotations

import csv
import gzip
import os
import random
import sys
from pathlib import Path

import torch
from rdkit import Chem

from makeable.chem import safe
from makeable.models.smiles_lm.io import load_model, load_prior

torch.set_num_threads(1)
data = Path(os.environ.get("MAKEABLE_DATA", "../shared/data"))
with gzip.open(data / "molecules" / "zinc250k_props.csv.gz", "rt") as fh:
    rows = list(csv.reader(fh))[1:3001]
arms = sorted({f for r in rows for f in safe.fragments(r[0]) if safe.attachments(f) == 1})
random.Random(0).shuffle(arms)
arms = arms[:300]
prior = load_prior()
prompts = [prior.tokenizer.encode(str(safe.arm_prefix(a)), add_special=False) for a in arms]
tokens, ended = prior.sample_tokens(300, 100, torch.Generator().manual_seed(0), prompts=prompts)
molecules = prior.molecules(prior.decode_batch(tokens, ended))
held = 0
for arm, smiles in zip(arms, molecules, strict=True):
    if smiles:
        core = Chem.DeleteSubstructs(Chem.MolFromSmiles(arm), Chem.MolFromSmarts("[#0]"))
        held += Chem.MolFromSmiles(smiles).HasSubstructMatch(core)
valid = sum(m is not None for m in molecules)
print(f"SMILES prior, 300 arm prompts: {valid} valid, {held} of them hold their arm")

if len(sys.argv) > 1:
    model = load_model(sys.argv[1])
    for close in (False, True):
        g = torch.Generator().manual_seed(0)
        tokens, ended = model.sample_tokens(300, 120, g, close_rings=close)
        molecules = model.molecules(model.decode_batch(tokens, ended))
        print(
            f"SAFE model, close_rings={close}: {int(ended.sum())} of 300 ended within 120 "
            f"tokens, {sum(m is not None for m in molecules)} valid"
        )
