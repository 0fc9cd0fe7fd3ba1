"""SMILES language models: an LSTM over atom-level tokens, safe save/load, training.

The tokenizer is :mod:`makeable.chem.smiles_tokens` (no torch; also used by the property
predictors' SMILES encoder). Submodules:
:mod:`~makeable.models.smiles_lm.lstm` (``SmilesLSTM``), :mod:`~makeable.models.smiles_lm.io`
(``save_model``, ``load_model``, ``load_prior``) and :mod:`~makeable.models.smiles_lm.train`.
This package module imports none of them, so importing it does not import torch.

The shipped ZINC250k prior (``zinc250k_lstm``) is shared by the GEGL, REINVENT and SMILES-LSTM
hill-climbing optimizers.
"""

DEFAULT_PRIOR = "zinc250k_lstm"
