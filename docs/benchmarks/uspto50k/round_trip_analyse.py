import json, math, sys
rows = [json.loads(l) for f in sys.argv[1:] for l in open(f)]
n = len(rows)
def topk(gamma, floor=1e-3, ks=(1, 3, 5, 10)):
    hits = {k: 0 for k in ks}
    for r in rows:
        if not r["scores"]:
            continue
        comb = [math.log(max(s, 1e-12)) + gamma * math.log(max(f, floor)) for s, f in zip(r["scores"], r["f_scores"])]
        order = sorted(range(len(comb)), key=lambda i: -comb[i])
        for k in ks:
            if any(r["correct"][i] for i in order[:k]):
                hits[k] += 1
    return {k: round(100 * v / n, 1) for k, v in hits.items()}
print("n", n, "base", topk(0.0))
for floor in (1e-3, 1e-2, 0.05):
    for g in (0.1, 0.25, 0.5, 1.0):
        print(floor, g, topk(g, floor))
pass_true = sum(1 for r in rows for c, f in zip(r["correct"], r["f_scores"]) if c and f > 0)
n_true = sum(1 for r in rows for c in r["correct"] if c)
pass_false = sum(1 for r in rows for c, f in zip(r["correct"], r["f_scores"]) if not c and f > 0)
n_false = sum(1 for r in rows for c in r["correct"] if not c)
print(f"round trip passes: correct {pass_true}/{n_true}, wrong {pass_false}/{n_false}")
