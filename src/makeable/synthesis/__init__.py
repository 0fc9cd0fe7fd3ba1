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

PLANNING_MODEL = "template_mlp_uspto500mt"
"""The single-step model that planning uses by default: ``retro plan``, ``design
--plan-routes`` and ``design --synthesis plan``. The Template-MLP trained on the leakage-filtered
USPTO-50k + USPTO-500-MT corpus (docs/benchmarks/planning.md: 133 vs 101 of the first 200
benchmark targets solved, against the USPTO-50k-only ``template_mlp``). The benchmarks that
recorded ``template_mlp`` (synthesizability labels, makeable PMO verdicts) keep it until they
are rerun."""
