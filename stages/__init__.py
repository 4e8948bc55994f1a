"""Thin entry points of the DVC stages: `python -m stages.<name> ...`. The work is in lamp_core."""
