"""SMILES language models: an atom-level tokenizer, an LSTM, safe save/load, training.

Submodules: :mod:`~makeable.models.smiles_lm.tokenizer` (no torch),
:mod:`~makeable.models.smiles_lm.lstm` (``SmilesLSTM``), :mod:`~makeable.models.smiles_lm.io`
(``save_model``, ``load_model``, ``load_prior``) and :mod:`~makeable.models.smiles_lm.train`.
This package module imports none of them, so importing it does not import torch.

The shipped ZINC250k prior (``zinc250k_lstm``) is shared by the GEGL, REINVENT and SMILES-LSTM
hill-climbing optimizers.
"""

DEFAULT_PRIOR = "zinc250k_lstm"
