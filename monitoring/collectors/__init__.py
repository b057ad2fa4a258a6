"""What feeds the metrics store (DESIGN §10), one module per source:

- `requests`: the request middleware (module, method, status class, latency);
- `work`: jobs, searches and embedding batches, reported through operations.observers.

The infrastructure collectors come next, each a module here that records into the same store
through `monitoring.metrics.RECORDER` with a family of its own in `monitoring.metrics.series`:
`database` (an execute wrapper on connections: query time, slow queries), `cache` (an instrumented
backend: hits and misses per key prefix), `channel_layer` (a RedisChannelLayer subclass: emitted,
received, latency, failures) and `models`.
"""
