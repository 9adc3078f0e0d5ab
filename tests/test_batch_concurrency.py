"""Concurrent batches with overlapping keys, against a live server on PostgreSQL.

As the README's *For API consumers* states: no 5xx, no duplicate row.
"""

import random
import urllib.error
import urllib.request
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest

from grievances.models import Grievance
from vbaproject.db.routing import using_client_database
from vbaproject.spec.sample_data import sample_item

KEYS = range(1, 31)


def send(url, headers, items):
    request = urllib.request.Request(
        url, data=orjson.dumps(items), method="PUT", headers={**headers, "Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, orjson.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "demo", "other"])
def test_concurrent_batches_with_overlapping_keys(live_server, api):
    url = f"{live_server.url}/vbasoftware/grievances-batch"
    headers = api.headers()
    rng = random.Random(7)
    batches = []
    for b in range(16):
        keyed = [
            sample_item(Grievance, rng, grievance_Key=k, subscriber_ID=f"B{b}K{k}")
            for k in rng.sample(list(KEYS), 20)
        ]
        assigned = [sample_item(Grievance, rng, subscriber_ID=f"B{b}A{i}") for i in range(5)]
        batch = keyed + assigned
        rng.shuffle(batch)
        batches.append(batch)

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda batch: send(url, headers, batch), batches))

    sent_for = defaultdict(set)  # key -> subscriber_IDs written under it
    created = defaultdict(int)  # key -> how many items report creating it (exactly one per row)
    for batch, (status, body) in zip(batches, answers, strict=True):
        assert status == 207, body
        for item, result in zip(batch, body["data"], strict=True):
            assert result["status"] in (200, 201), result
            key = result["id"][0]["value"]
            if "grievance_Key" in item:
                assert key == item["grievance_Key"]
            sent_for[key].add(item["subscriber_ID"])
            created[key] += result["status"] == 201
    with using_client_database("demo"):
        rows = {g.pk: g.subscriber_ID for g in Grievance.objects.all()}
    assert set(rows) == set(sent_for), "a reported key has no row, or a row no reported key"
    assert all(created[key] == 1 for key in rows), "some key was created more than once, or never"
    assert all(rows[key] in sent_for[key] for key in rows), "a row holds values nobody sent for its key"
    assigned = [
        r["id"][0]["value"]
        for batch, (_, body) in zip(batches, answers, strict=True)
        for item, r in zip(batch, body["data"], strict=True)
        if "grievance_Key" not in item
    ]
    assert len(assigned) == len(set(assigned)) == 16 * 5, "two items were assigned the same key"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "demo", "other"])
def test_a_put_racing_a_delete_is_404_not_a_silent_re_creation(live_server, api):
    import threading

    import psycopg
    from django.db import connections

    (created,) = api.put("/vbasoftware/grievances-batch", [sample_item(Grievance, grievance_Key=5)]).json()[
        "data"
    ]
    assert created["status"] == 201
    settings = connections["demo"].settings_dict
    deleter = psycopg.connect(
        host=settings["HOST"], port=settings["PORT"] or 5432, user=settings["USER"], dbname=settings["NAME"]
    )
    deleter.execute('DELETE FROM grievances_grievance WHERE "grievance_Key" = 5')  # not committed yet
    answer = {}

    def put():
        request = urllib.request.Request(
            f"{live_server.url}/vbasoftware/grievances/5",
            method="PUT",
            data=orjson.dumps(sample_item(Grievance, subscriber_ID="AFTER")),
            headers={**api.headers(), "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                answer["status"] = response.status
        except urllib.error.HTTPError as error:
            answer["status"] = error.code

    thread = threading.Thread(target=put)
    thread.start()
    thread.join(1.0)  # the PUT waits on the row the delete holds
    deleter.commit()
    deleter.close()
    thread.join(30)
    assert answer["status"] == 404
    with using_client_database("demo"):
        assert not Grievance.objects.filter(pk=5).exists()
