"""Faults against real processes: a Daphne killed with -9, Redis restarted, PostgreSQL stopped.

Each fault test runs its own hubs (and, for Redis and PostgreSQL, its own private server) so
that killing things disturbs no other test.
"""

import asyncio
import uuid

import pytest

from hub.client import TerminalClient
from tests.conftest import casualty_report_data
from tests.support.db import in_db
from tests.support.hubs import DaphneProcess
from tests.support.protocol import connect_terminal
from tests.support.services import PrivatePostgres, PrivateRedis, migrate

pytestmark = [pytest.mark.asyncio, pytest.mark.faults]

T = "2019-10-20T09:00:00Z"


def _journal_counts(topic):
    from django.db.models import Count

    from hub.models import JournalEntry

    rows = JournalEntry.objects.filter(topic=topic).values("client_id").annotate(n=Count("id"))
    return {row["client_id"]: row["n"] for row in rows}


async def _stream(client, topic, count, acked):
    for i in range(count):
        frame_id = f"vitals-{i}-{uuid.uuid4()}"
        ack = await client.send("vitals", topic, {"t": T, "hr": 60 + i % 100}, id=frame_id)
        acked[frame_id] = ack.seq
        await asyncio.sleep(0.01)


async def test_killing_one_daphne_moves_the_client_to_the_other_and_loses_nothing(
        hub_env, roles):
    first = DaphneProcess(env=hub_env).start()
    second = DaphneProcess(env=hub_env).start()
    try:
        data = casualty_report_data()
        topic = f"casualty:{data['casualty']}"
        acked: dict[str, int] = {}
        async with TerminalClient([first.ws_url, second.ws_url], token=roles.field,
                                  backoff_initial=0.05, backoff_max=0.5) as medic:
            await medic.send("casualty.report", "event:wic-test", data)
            streaming = asyncio.create_task(_stream(medic, topic, 300, acked))
            await asyncio.sleep(1.0)
            first.kill()
            async with asyncio.timeout(60):
                await streaming
            await medic.flush(30)
        counts = await in_db(_journal_counts, topic)
        assert set(acked) <= set(counts), "an acknowledged frame is missing from the journal"
        assert all(n == 1 for n in counts.values()), "a frame was stored twice"
        assert len(counts) == 300
        seqs = sorted(acked.values())
        assert seqs == list(range(1, 301))
    finally:
        first.stop()
        second.stop()


async def test_redis_restart_under_load_loses_no_acknowledged_frame_and_delivery_resumes(
        hub_env, roles):
    redis = PrivateRedis().start()
    hub = DaphneProcess(env={**hub_env, "REDIS_URL": redis.url}).start()
    try:
        data = casualty_report_data()
        topic = f"casualty:{data['casualty']}"
        medic = await connect_terminal(hub.ws_url, roles.field)
        await medic.send("casualty.report", "event:wic-test", data)
        viewer = await connect_terminal(hub.ws_url, roles.command)
        await viewer.subscribe(topic)
        acked = []

        async def write(n):
            for i in range(n):
                reply = await medic.send("vitals", topic, {"t": T, "hr": 70 + i % 50})
                assert reply["type"] == "ack", reply
                acked.append(reply["seq"])
                await asyncio.sleep(0.01)

        writing = asyncio.create_task(write(200))
        await asyncio.sleep(0.5)
        redis.stop()
        await asyncio.sleep(1.0)
        redis = PrivateRedis(port=redis.port).start()
        await writing
        received = await viewer.messages_until(topic, 200, timeout=30)
        assert [m["seq"] for m in received] == list(range(1, 201))
        assert sorted(acked) == list(range(1, 201))
        await medic.close()
        await viewer.close()
    finally:
        hub.stop()
        redis.stop()


@pytest.fixture
def private_postgres(hub_env):
    postgres = PrivatePostgres().init()
    postgres.start()
    postgres.create_database("mcihub_fault")
    env = {**hub_env, "DATABASE_URL": postgres.url("mcihub_fault"),
           "DATABASE_CONNECT_TIMEOUT": "1"}
    migrate(env)
    yield postgres, env
    postgres.remove()


def _issue_field_token(env):
    import subprocess

    out = subprocess.run(
        [".venv/bin/python", "manage.py", "shell", "-c",
         "from django.contrib.gis.geos import Point;"
         "from command_center.models import MassEvent;"
         "from hub.services import terminal_token_issue;"
         "e = MassEvent.objects.create(slug='wic-test', name='WIC test', status='active');"
         "print(terminal_token_issue(kind='field', name='medic-1', event=e).token)"],
        env=env, capture_output=True, text=True, check=True, timeout=120)
    return out.stdout.strip().splitlines()[-1]


def _count_vitals(env, topic):
    import subprocess

    out = subprocess.run(
        [".venv/bin/python", "manage.py", "shell", "-c",
         f"from hub.models import JournalEntry; from django.db.models import Count;"
         f"q = JournalEntry.objects.filter(topic='{topic}', type='vitals');"
         f"print(q.count(), q.values('client_id').distinct().count())"],
        env=env, capture_output=True, text=True, check=True, timeout=120)
    total, distinct = out.stdout.split()[-2:]
    return int(total), int(distinct)


async def test_postgres_down_answers_unavailable_and_the_outbox_delivers_once_it_is_back(
        private_postgres):
    postgres, env = private_postgres
    token = await asyncio.to_thread(_issue_field_token, env)
    hub = DaphneProcess(env=env).start()
    try:
        data = casualty_report_data(category="yellow")
        topic = f"casualty:{data['casualty']}"
        raw = await connect_terminal(hub.ws_url, token)
        assert (await raw.send("casualty.report", "event:wic-test", data))["type"] == "ack"
        async with TerminalClient([hub.ws_url], token=token, backoff_initial=0.2,
                                  backoff_max=1.0) as medic:
            await asyncio.to_thread(postgres.stop)
            reply = await raw.send("vitals", topic, {"t": T, "hr": 80})
            assert reply["type"] == "error" and reply["code"] == "unavailable", reply
            ids = [medic.enqueue("vitals", topic, {"t": T, "hr": 90 + i}) for i in range(20)]
            with pytest.raises(TimeoutError):
                await medic.flush(2.0)  # answered unavailable, kept in the outbox
            await asyncio.to_thread(postgres.start)
            await medic.flush(60)
        await raw.close()
        total, distinct = await asyncio.to_thread(_count_vitals, env, topic)
        assert (total, distinct) == (20, 20), "each queued frame is stored exactly once"
        assert len(ids) == 20
    finally:
        hub.stop()
