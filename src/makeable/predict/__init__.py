"""Property predictors trained on the user's own data, usable as objectives.

* :mod:`~makeable.predict.features`: atom and bond features and batched molecular graphs;
* :mod:`~makeable.predict.mpnn`: the directed message-passing network (chemprop's class);
* :mod:`~makeable.predict.data`: property tables (CSV) with bad rows reported by line;
* :mod:`~makeable.predict.splits`: random and scaffold splits, classification metrics;
* :mod:`~makeable.predict.train`: ensembles trained with early stopping, calibrated
  uncertainty, saved as safetensors + JSON;
* :mod:`~makeable.predict.model`: a saved predictor, loaded without unpickling, that predicts
  a mean and a standard deviation per target.

The objective ``predictor:DIR[:TARGET]`` (:mod:`makeable.objectives.predictor`) scores
molecules with a saved predictor inside any design run.
"""

FORMAT_NAME = "makeable-predictor"
"""The ``format`` of a predictor folder's ``config.json`` (here, so that telling a predictor
folder apart imports no torch)."""

#: below this Tanimoto similarity to every training molecule, a prediction is an extrapolation
#: (flagged by ``predict score --html``; the default cut-off of ``bench proxy``'s domain variant)
DOMAIN_SIMILARITY = 0.4
