"""Prefect flows: they decide when, where and how many; the work is in the DVC stages."""
