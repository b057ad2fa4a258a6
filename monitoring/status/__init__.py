"""What the infrastructure cards and their endpoints show (DESIGN §10, issue 10): read, never written.

`database` (engine, pool, queries, slow query log, tables), `cache` (hits, memory, top keys, clear) and
`workers` (the seed's WorkerStatus and the queue's length over time); `params` checks what a request asks.
"""
