"""Stage ingest: type each new raw batch per the contract and add row provenance."""

from collections import Counter
from pathlib import Path

from datawheel.api import Params, ingest_batches, log, progress, run_stage


def main(params: Params) -> None:
    paths = params.paths
    result = ingest_batches(
        raw_dir=Path(paths.raw),
        out_dir=Path(paths.ingested),
        quarantine_dir=Path(paths.quarantine) / "batches",
        contract=params.contract,
        progress=lambda batches: progress(batches, "ingest"),
    )
    quarantined = [b for b in result.batches if b.status == "quarantined"]
    rules = Counter(b.reason["rule"] for b in quarantined)
    by_rule = f" ({', '.join(f'{r} {n}' for r, n in sorted(rules.items()))})" if rules else ""
    log(
        f"ingest: {len(result.batches)} batches, read {len(result.read)} new, "
        f"reused {len(result.batches) - len(result.read)}, "
        f"quarantined {len(quarantined)}{by_rule}"
    )
    for line in result.rebuilt:
        log(f"ingest: {line}")
    for batch in result.read:
        log(f"ingest: read {batch}")
    for batch in result.batches:
        if batch.duplicate_of:
            log(
                f"ingest: {batch.path} has the same bytes as {batch.duplicate_of}: "
                "its rows keep that batch"
            )
    for batch in quarantined:
        log(f"ingest: quarantined {batch.path}: {batch.reason['message']}")


if __name__ == "__main__":
    run_stage("ingest", main)
