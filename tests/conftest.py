"""Settings every test shares: no analytics, no progress bars, a git identity."""

import os

os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DATAWHEEL_NO_PROGRESS", "1")
for key, value in {
    "GIT_AUTHOR_NAME": "datawheel-tests",
    "GIT_AUTHOR_EMAIL": "tests@datawheel.invalid",
    "GIT_COMMITTER_NAME": "datawheel-tests",
    "GIT_COMMITTER_EMAIL": "tests@datawheel.invalid",
}.items():
    os.environ.setdefault(key, value)
