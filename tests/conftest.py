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

# The longest files first. With `--dist loadfile` a file runs whole on one worker, in
# collection order: the demo's scenario (about 10 minutes) collected in the middle started
# a quarter of an hour in and finished last, with the other worker idle.
SLOWEST_FIRST = (
    "tests/e2e/test_flywheel.py",
    "tests/e2e/test_realdata_cancer.py",
    "tests/e2e/test_realdata_weather.py",
    "tests/spark/test_pipeline.py",
    "tests/e2e/test_realdata_diabetes.py",
    "tests/e2e/test_realdata_penguins.py",
)


def pytest_collection_modifyitems(config, items):
    """Order the collected tests so that the files in SLOWEST_FIRST are handed out first."""
    rank = {path: position for position, path in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))
