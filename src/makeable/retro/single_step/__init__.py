"""Single-step retrosynthesis: one reaction back from a product.

``base`` (SingleStepModel, MODELS, load_model), ``template_mlp`` (Template-MLP and its
forward twin), ``retcl`` + ``retcl_train`` + ``gnn`` (RetCL), ``templates`` (rdchiral
extraction and application), ``data`` (USPTO-50k files), ``metrics`` (exact match, round
trip), ``report`` (``retro predict --html``), ``syntheseus_adapter`` (a model as syntheseus's
reaction model, for the search).
"""
