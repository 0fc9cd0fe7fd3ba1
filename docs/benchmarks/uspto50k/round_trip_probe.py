"""Probe: re-rank the ensemble's top-K by a forward model's round-trip score (validation)."""
import json, sys, math
from pathlib import Path
from makeable.retro.single_step.data import load_uspto50k
from makeable.retro.single_step.base import load_model
from makeable.retro.single_step.ensemble import EnsembleModel
from makeable.retro.single_step.metrics import reactant_key, match_rank
from makeable.runtime import set_torch_threads

set_torch_threads(1)
start, stop, fwd_path, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
K = 10
done = set()
if out.exists():
    done = {json.loads(l)["i"] for l in out.open()}
rx = load_uspto50k("val")[start:stop]
ens = EnsembleModel(members=["local_gnn", "template_mlp_uspto500mt"])
fwd = load_model(fwd_path, direction="forward")
with out.open("a") as fh:
    for j, r in enumerate(rx):
        i = start + j
        if i in done:
            continue
        pred = ens.predict([r.product.smiles], k=K)[0]
        sets = [rs.reactants for rs in pred.reactant_sets][:K]
        scores = [rs.score for rs in pred.reactant_sets][:K]
        target = reactant_key(r.product.smiles)
        fp = fwd.predict([".".join(s) for s in sets], k=10) if sets else []
        f_scores, f_ranks = [], []
        for p in fp:
            sc, rk = 0.0, None
            for n, o in enumerate(p.reactant_sets, 1):
                if reactant_key(o.reactants) == target:
                    sc, rk = o.score, n
                    break
            f_scores.append(sc); f_ranks.append(rk)
        rank = match_rank(sets, r.reactants)
        fh.write(json.dumps({"i": i, "rank": rank, "scores": scores, "f_scores": f_scores,
                             "f_ranks": f_ranks, "correct": [match_rank([s], r.reactants) == 1 for s in sets]}) + "\n")
        fh.flush()
        print(i, rank, flush=True)
