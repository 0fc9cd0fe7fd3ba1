"""Evaluation of generative models: the MOSES distribution-learning metrics and ChemNet/FCD."""
