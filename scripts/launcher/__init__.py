"""The launcher behind ``scripts/hostmode.py``: Docker when an engine answers, else host mode.

Standard library only; runs under any python3 >= 3.9 (the Makefile uses the machine's python3).
Modules, from the bottom up: ``console`` (messages, errors), ``config`` (paths, knobs, LocalStack's
environment), ``pidfile``, ``procfs``, ``python_env`` (Python >= 3.12 and venvs), ``readiness``
(health and init waits), ``host_backend`` / ``docker_backend`` (one ``Backend`` interface) and
``cli`` (the commands; it picks the backend).
"""
