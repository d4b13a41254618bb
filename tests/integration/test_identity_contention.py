"""C2: merge under contention. 100 identify calls at once, each linking the same person to a
different anonymous id, through a live server while a second worker process applies the log
too: one profile comes out, holding all 100 devices, every link explained.

The person is named by ``userId`` (with their email as a trait). An email alone does not merge
in c360: families in Thailand and Vietnam share one, so by default a shared email makes a
household, never a merge (docs/identity.md); a user id is the identifier that merges alone."""

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import func, select
from tests.conftest import start_server

from c360.storage import open_store
from c360.storage.tables import identity_nodes, profiles

EMAIL = "lan.contention@example.vn"
USER_ID = "u-lan-contention"
CALLS = 100


def test_a_hundred_concurrent_identifies_of_one_email_make_exactly_one_profile(
    database_url: str, tmp_path: Path
) -> None:
    server = start_server(database_url, tmp_path)
    worker = subprocess.Popen(
        [sys.executable, "-m", "c360", "worker"],
        env={**os.environ, "C360_DATABASE_URL": database_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    anonymous = [f"c2-device-{i:03d}" for i in range(CALLS)]
    try:

        def identify(anonymous_id: str) -> int:
            body = {
                "anonymousId": anonymous_id,
                "userId": USER_ID,
                "traits": {"email": EMAIL},
                "messageId": f"m-{anonymous_id}",
            }
            response = httpx.post(
                f"{server.url}/v1/identify", json=body, auth=(server.write_key, ""), timeout=30
            )
            return response.status_code

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=32) as pool:
            statuses = list(pool.map(identify, anonymous))
        took = time.perf_counter() - started
        assert statuses == [200] * CALLS, {s: statuses.count(s) for s in set(statuses)}
        server.wait_processed()

        with server.admin() as api:
            found = api.get(f"/api/profiles/by-identifier/email/{EMAIL}")
            assert found.status_code == 200, found.text
            profile_id = found.json()["id"]
            for anonymous_id in anonymous[:: CALLS // 10]:
                holder = api.get(f"/api/profiles/by-identifier/anonymous_id/{anonymous_id}")
                assert holder.json()["id"] == profile_id, anonymous_id
            why = api.get(f"/api/profiles/{profile_id}/identity").json()
        engine = open_store(database_url)
        try:
            with engine.connect() as conn:
                holders = conn.execute(
                    select(func.count(func.distinct(identity_nodes.c.profile_id))).where(
                        identity_nodes.c.node_type == "anonymous_id",
                        identity_nodes.c.node_key.in_(anonymous),
                    )
                ).scalar_one()
                nodes = conn.execute(
                    select(func.count()).where(
                        identity_nodes.c.node_type == "anonymous_id",
                        identity_nodes.c.node_key.in_(anonymous),
                    )
                ).scalar_one()
                live = conn.execute(
                    select(func.count()).where(profiles.c.merged_into.is_(None))
                ).scalar_one()
        finally:
            engine.dispose()
        assert nodes == CALLS, f"{nodes} of {CALLS} devices became identity nodes"
        assert holders == 1, f"the {CALLS} devices ended in {holders} profiles"
        assert live == 1, f"{live} live profiles (one person sent everything)"
        edges = why["edges"]
        assert len(edges) >= CALLS - 1, f"{len(edges)} edges explain {CALLS} devices"
        assert all(edge["because"] for edge in edges)
        print(f"{CALLS} identifies in {took:.2f} s", file=sys.stderr)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        server.stop()
