"""Simulated worlds: case folders with ground truth, reproducible from a scenario and a seed."""
