"""Benchmarks of the real path: Valkey, `relay sandbox` and `relay run` workers as processes.

`python -m bench.real --help`. Modules: `procs` (the processes and their CPU), `world` (the
sandbox's control API: chats, channels, limits, the request log), `measure` (fill, 429s,
latency from the request log), `plain` (the plain python-telegram-bot loop compared against),
`workloads` (each workload, one function), `report` (tables, JSON) and `plots` (PNG).
"""
