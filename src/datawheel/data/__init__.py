"""The data contract and batches: parsing, typing, row ids, manifests; the built-in stream."""
