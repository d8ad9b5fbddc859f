"""Reports: figures (PNG + SVG) from analysis and experiment results."""
