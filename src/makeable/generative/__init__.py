"""Generative models and their evaluation: the MOSES distribution-learning metrics and
ChemNet/FCD; a SMILES VAE with property heads (``vae``, ``vae_io``, ``vae_data``, ``vae_train``)."""
