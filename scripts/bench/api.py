"""The API rows: GET /users/{id} and POST /users through the deployed API Gateway at several
concurrency levels, and the floor (STS GetCallerIdentity, same gateway, same client)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import stack as st

from .load import RequestFactory, run_load, sts_caller_identity


def get_user(api: str, user_id: str) -> RequestFactory:
    url = f"{api}/users/{user_id}"
    return lambda _n: ("GET", url, {}, None)


def post_user(api: str, run: str) -> RequestFactory:
    def factory(n: int):
        body = {"email": f"bench-{run}-{n}@example.com", "name": f"Bench {n}"}
        return "POST", f"{api}/users", {"Content-Type": "application/json"}, json.dumps(
            body).encode()

    return factory


def measure_api(
    seconds: float, get_levels: list[int], post_levels: list[int], log: Callable[[str], None]
) -> dict:
    api = st.load_outputs()["ApiUrl"].rstrip("/")
    status, user = st.http("POST", f"{api}/users",
                           {"email": f"bench-get-{uuid.uuid4().hex[:8]}@example.com",
                            "name": "Bench Get"})
    assert status == 201, f"POST /users -> {status} {user}"
    floor_levels = sorted({1, max(get_levels + post_levels)})
    result: dict = {"sts": [], "get_user": [], "post_user": []}
    # warm-up, not recorded: every function the load hits has a warm environment
    run_load(get_user(api, user["user_id"]), 2, 1.0)
    run_load(post_user(api, f"warm{uuid.uuid4().hex[:6]}"), 2, 1.0)
    for c in floor_levels:
        res = run_load(sts_caller_identity(st.endpoint_url()), c, seconds)
        log(f"floor STS c={c}: {res.throughput:.1f} req/s, {res.errors} errors")
        result["sts"].append(res.as_dict())
    for c in get_levels:
        res = run_load(get_user(api, user["user_id"]), c, seconds)
        log(f"GET /users/{{id}} c={c}: {res.throughput:.1f} req/s, {res.errors} errors")
        result["get_user"].append(res.as_dict())
    run = uuid.uuid4().hex[:8]
    for c in post_levels:
        res = run_load(post_user(api, f"{run}-c{c}"), c, seconds)
        log(f"POST /users c={c}: {res.throughput:.1f} req/s, {res.errors} errors")
        result["post_user"].append(res.as_dict())
    return result
