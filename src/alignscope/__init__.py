"""alignscope: dissect how multilingual encoders achieve zero-shot cross-lingual transfer."""

__version__ = "0.1.0"
