"""`make bench`: the kit's speed and memory numbers, each beside a floor measured in the same run.

Modules: settings (env knobs), stats (percentiles), load (the async HTTP load generator), system
(LocalStack up/down, RSS, deploy, cold/warm invoke), flows (the app's event flows, timed),
targets (rows and their targets), report (table and JSON), plots (PNGs), __main__ (the run).
"""
