"""Logit and tuned lens on multilingual prompts (Wendler et al. 2024; Belrose et al. 2023).

  words    word lists (the shipped `builtin` list, wide CSV, the latent-language layout)
  tasks    translation, repetition and cloze items built from them
  answers  which tokens count as a word's answer (the prefix rule, or the first token)
  compute  the residual stream at the answer position, decoded at every layer
  tuned    the tuned lens: training, evaluation, saving and loading
  run      `run_lens(LensConfig(...))`: the whole analysis and its results (kind `lens`)
"""
