"""params.yaml and dvc.yaml `vars` as typed, frozen settings; the estimators they name."""
