"""Reports: tables and paper-sized figures (PNG + SVG) of sweeps and of chosen runs; a run's own
figures are drawn by the analysis that writes it (alignscope.analysis.figures)."""
