"""Analyses on top of the engines: verification, leakage, sweeps and scaling, noise and durability models, the demo."""
