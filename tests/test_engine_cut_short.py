"""The batch engine cut short between two chunks, outside its write transactions."""

import pytest
from django.db import OperationalError

from carecases.models import CareCase, CareCaseClinicalTrial
from vbaproject.engine import upsert
from vbaproject.engine.upsert import upsert_batch
from vbaproject.spec.sample_data import sample_item


@pytest.mark.django_db(transaction=True, databases=["default", "demo", "other"])  # real commits
def test_a_connection_lost_checking_references_after_a_commit_answers_each_item(
    demo_db, settings, monkeypatch
):
    settings.VBA_BATCH_CHUNK_ROWS = 2
    (case,) = upsert_batch(CareCase, [sample_item(CareCase)], user="t")
    items = [sample_item(CareCaseClinicalTrial, case_Key=case.key) for _ in range(4)]
    check = upsert._check_references
    calls = []

    def lost_on_the_second_chunk(*args):
        calls.append(1)
        if len(calls) == 2:
            exc = OperationalError("server closed the connection unexpectedly")
            exc.sqlstate = "08006"  # connection_failure
            raise exc
        return check(*args)

    monkeypatch.setattr(upsert, "_check_references", lost_on_the_second_chunk)
    results = upsert_batch(CareCaseClinicalTrial, items, user="t")
    assert [r.status for r in results] == [201, 201, 503, 503]
    assert CareCaseClinicalTrial.objects.count() == 2
