"""Learned models (SMILES language models, ...), imported by the optimizers that use them."""
