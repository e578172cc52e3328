"""RED metrics (rate, errors, duration) counted at the edges for every request and message,
sampled or not, with exemplars that link latency buckets to kept traces."""
