"""The encoding layer between models and tasks: how sentences become model inputs and how
hidden states become vectors, shared by training (task heads) and analysis (features).

  words      the word aligner (word -> anchor subword, windows for long sentences)
  batching   the batcher (sentence-count and token-budget variants)
  collate    padding and collation (right padding, for encoders and causal models)
  precision  the precision policy (--precision fp32 | bf16 | fp16 | auto)
  pooling    the POOLINGS registry (mean, cls, word, authors, weighted-mean, last, prompt-last)
"""
