"""`alignscope demo`: the whole study, offline, on lab-made languages and models (run.py)."""
