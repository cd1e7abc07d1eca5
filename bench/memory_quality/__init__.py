"""Memory-quality benchmark (issue 16): dataset, harness and report. See bench/memory_quality.py."""
