"""Learned synthesizability: the planner's own verdicts, distilled into a fast classifier.

* :mod:`makeable.synthesis.labels`: plan molecules under fixed settings and append one label
  row per molecule (resumable after a kill);
* :mod:`makeable.synthesis.train`: train the small MLP on those labels (torch), test it on
  held-out molecules and save it for the numpy objective ``synth_score``
  (:mod:`makeable.objectives.synthesizability`);
* :mod:`makeable.synthesis.in_loop`: the learned score or the planner's verdict inside the
  design loop (``makeable design --synthesis score|plan``).
"""

MODES = ("none", "score", "plan")
"""Values of ``DesignConfig.synthesis`` (and of ``--synthesis``): off, the learned score, the
planner's verdict."""

PLANNING_MODEL = "local_gnn"
"""The single-step model that planning uses by default: ``retro plan``, ``design
--plan-routes`` and ``design --synthesis plan``. The Local-GNN (local reaction-centre templates
scored per atom by a graph network) trained on the leakage-filtered USPTO-50k + USPTO-500-MT
corpus: 48.1 % top-1 / 94.9 % top-50 on USPTO-50k, and on the first 50 PaRoutes benchmark
targets 36 solved against 26 for ``template_mlp_uspto500mt`` (docs/benchmarks/planning.md), at
about 2.5 times the time per call. The synthesizability labels, the learned score and the
makeable PMO verdicts were made with ``template_mlp_uspto500mt`` and keep it
(:data:`LABEL_MODEL`)."""

LABEL_MODEL = "template_mlp_uspto500mt"
"""The planner of the synthesizability labels (and so of the learned score ``synth_score`` and
the makeable PMO verdicts): the Template-MLP of the leakage-filtered corpus, the planning
default when they were made; fixed, so that labels, score and verdicts stay comparable until
they are remade."""
