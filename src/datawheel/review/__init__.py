"""Reviewing data changes: the data `diff`, `drift` statistics (pure) and their `monitor` over
a revision's batches, the review `report` (gathered and judged), and the `outputs` that write
its files; the Markdown, tables and PNGs are datawheel.render's."""
