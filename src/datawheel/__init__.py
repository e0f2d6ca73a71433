"""datawheel: a git-native continuous-training pipeline."""

import os

__version__ = "0.1.0"

# scikit-learn's OpenMP threads busy-wait between parallel regions by default. On a small
# machine shared with other work (a 2-core CI runner, DVC beside a stage) the spinning
# thread takes the core the work needs: HistGradientBoosting's fit went from 5 s to 23 s.
# Passive waiting costs little when the machine is idle. Set before scikit-learn loads
# OpenMP; an explicit OMP_WAIT_POLICY in the environment wins. The model is unchanged.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
