"""Benchmarks: commands that run published protocols and write results to a folder."""
