"""Multi-step planning: from a target down to purchasable starting materials.

``search`` (plan / plan_many, SearchSettings, PlanResult, the verdict), ``syntheseus_search``
(Retro* and MCTS through syntheseus, made deterministic), ``routes`` (Route trees, PaRoutes
JSON, checked against a stock), ``value`` (a learned Retro* value function), ``reaction_filter``
(drop steps a forward model does not confirm), ``improve`` (self-improvement), ``route_report``
(SVG/PNG/HTML of routes).
"""
