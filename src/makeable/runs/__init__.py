"""Runs: typed configs, the design job, run folders and reports."""
