"""Analyses on top of the engines: property verification, the demo, (later) leakage and sweeps."""
