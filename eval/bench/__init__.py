"""``planqa bench`` / ``python -m eval.bench``: index build, cold start, latency, throughput, memory."""
