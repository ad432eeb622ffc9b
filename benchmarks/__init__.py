"""Benchmarks against the peers: ``python -m benchmarks`` (docs/performance.md, docs/benchmarks.md).

Every scenario runs for every contender in one run, on one local S3 server, alternating
contenders over several rounds; tables report medians and ratios to django-minio-backend.
"""
