"""Cost tools: ``cfgen cost`` (hourly cost at full scale, Spot vs On-Demand) and
``cfgen simulate`` (Monte Carlo of a workload under Spot interruptions).

Modules: :mod:`cfgen.cost.prices` (bundled tables in ``cfgen/data``, live Spot
prices), :mod:`cfgen.cost.estimate`, :mod:`cfgen.cost.simulate` (numpy, imported
lazily), :mod:`cfgen.cost.cli` (``cost_main`` / ``simulate_main``).
"""
