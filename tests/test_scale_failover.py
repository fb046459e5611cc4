"""Two hubs, two Rasa servers and two action servers as separate processes on PostgreSQL and
Redis behind HAProxy (deploy/haproxy.cfg), as docker-compose.yml runs them. Under load one of
each is killed in turn (SIGKILL): no acknowledged message is lost, every one is answered by the
bot or its conversation queued as `bot_unavailable`, and the conversations of the dead Rasa are
answered by the other one. The load and the checks are bench/scale.py's (its failover run, shorter).

Runs (never skips) under CI=true: PostgreSQL, Redis and haproxy are then required.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.scale import KILL_ORDER, measure
from tests.services import require_haproxy, require_services

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

CUSTOMERS = 10
DURATION = 24.0  # a kill every 6 s


def test_killing_one_of_each_under_load_loses_nothing(trained_model: Path, tmp_path: Path) -> None:
    require_services()
    require_haproxy()
    step = DURATION / (len(KILL_ORDER) + 1)
    kills = [(name, step * (i + 1)) for i, name in enumerate(KILL_ORDER)]
    result = measure(trained_model, 2, CUSTOMERS, DURATION, kills, tmp_path)
    check = result["check"]
    print(result)
    assert set(result["kills_at_s"]) == set(KILL_ORDER)
    assert check["acknowledged"] > 50
    assert check["lost"] == 0, check
    assert check["owed_turns_left"] == 0, check
    assert check["outcome"]["unanswered"] == 0, check
    assert result["unacknowledged"] == 0, result  # a failed send went through on a re-send
    dead = check["dead_rasa_conversations_after_kill"]
    assert dead["conversations"] > 0 and dead["answered_by_bot"] > 0, dead  # the other Rasa took them
    assert dead["answered_by_bot"] + dead["bot_unavailable"] == dead["turns"], dead
    # the survivors went on answering after each kill
    assert [p["bot_answered_turns"] > 0 for p in result["phases"]] == [True] * (len(KILL_ORDER) + 1), result["phases"]
