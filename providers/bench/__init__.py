"""Benchmarks over the race engine: many samples instead of one, and concurrency sweeps.

UI-free: this package imports the engine and what sits below it, never `tui`. Metric names
and definitions follow genai-perf (TTFT, inter-token latency, request latency, output token
throughput) so figures can be set beside theirs.
"""
