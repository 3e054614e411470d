"""Benchmarks for trt_autoplugin (run as modules: ``python -m benchmarks.<name>``)."""
