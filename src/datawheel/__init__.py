"""datawheel: a git-native continuous-training pipeline."""

__version__ = "0.1.0"
