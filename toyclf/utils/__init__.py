"""Helpers beneath everything else: parameter checks, the torch device, safe file writes,
checkpoint files and the CSV of results the zero-shot command resumes from. Nothing here knows
about diffusion."""
