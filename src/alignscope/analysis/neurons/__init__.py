"""Language-specific neurons (Tang et al., ACL 2024: LAPE).

  activations  how often each feed-forward neuron fires (activation > 0) on each language's text
  lape         the selection: low entropy across languages, above the activation thresholds
  deactivate   perplexity of every language with one language's neurons (or as many random
               ones) silenced
  run          `run_neurons(NeuronsConfig(...))`: the whole analysis and its results
"""
