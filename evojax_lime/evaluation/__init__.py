"""Masked batch -> classifier -> fitness: masking, fill, chunked row evaluation, chunk sizes, sharding."""
