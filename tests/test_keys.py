"""Server-assigned keys never collide with keys a client chose, before or after."""

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from auths.models import Auth
from carecases.models import CareCase
from grievances.models import Grievance
from tests.support.factories import make_record
from vbaproject.engine.upsert import upsert_batch
from vbaproject.spec.entities import entity_spec
from vbaproject.spec.sample_data import sample_item

pytestmark = pytest.mark.django_db(databases=["default", "demo", "other"])


def keys(results):
    return [r.key for r in results]


def test_assigned_integer_keys_skip_explicit_ones(demo_db):
    first = upsert_batch(Grievance, [sample_item(Grievance) for _ in range(3)], user="t")
    assert [r.status for r in first] == [201] * 3
    explicit = max(keys(first)) + 5
    upsert_batch(Grievance, [sample_item(Grievance, grievance_Key=explicit)], user="t")
    later = upsert_batch(
        Grievance, [sample_item(Grievance, grievance_Key=0), sample_item(Grievance)], user="t"
    )
    assert [r.status for r in later] == [201, 201]
    assert min(keys(later)) > explicit
    assert Grievance.objects.count() == 6


def test_orm_inserts_also_skip_explicit_keys(demo_db):
    """The admin saves through the ORM: its identity-assigned keys must skip client keys too."""
    upsert_batch(CareCase, [sample_item(CareCase, case_Key=500)], user="t")
    assert make_record(CareCase).pk > 500


def test_explicit_keys_after_assigned_ones_update_them(demo_db):
    (created,) = upsert_batch(Grievance, [sample_item(Grievance)], user="t")
    (again,) = upsert_batch(
        Grievance, [sample_item(Grievance, grievance_Key=created.key)], user="t"
    )
    assert (created.status, again.status) == (201, 200)


def test_assigned_auth_numbers_skip_numbers_clients_chose(demo_db):
    chosen = [sample_item(Auth, auth_Number=str(n)) for n in range(1, 6)]
    upsert_batch(Auth, [*chosen, sample_item(Auth, auth_Number="A-7")], user="t")
    results = upsert_batch(
        Auth,
        [sample_item(Auth), sample_item(Auth, auth_Number=""), sample_item(Auth, auth_Number=None)],
        user="t",
    )
    assigned = keys(results)
    assert [r.status for r in results] == [201] * 3
    assert len(set(assigned)) == 3 and not set(assigned) & {"1", "2", "3", "4", "5"}
    assert all(isinstance(k, str) for k in assigned)
    assert Auth.objects.count() == 9


@pytest.mark.postgres
def test_identity_sequence_is_moved_past_explicit_keys_on_postgres(demo_db):
    upsert_batch(Grievance, [sample_item(Grievance, grievance_Key=9000)], user="t")
    with connections[demo_db].cursor() as cursor:
        cursor.execute(  # the key's own sequence (the history table's is named alike)
            "SELECT last_value FROM pg_sequences WHERE format('%%I.%%I', schemaname, sequencename)::regclass"
            " = pg_get_serial_sequence(%s, %s)::regclass",
            [Grievance._meta.db_table, "grievance_Key"],
        )
        assert cursor.fetchone()[0] >= 9000


@pytest.mark.usefixtures("keep_key_sequences")
def test_a_client_key_at_the_32_bit_limit_leaves_assignment_working(demo_db):
    """Found by schemathesis: the sequence followed the key to its ceiling, and then failed."""
    top = 2**31 - 1
    results = upsert_batch(
        Grievance,
        [sample_item(Grievance, grievance_Key=top), sample_item(Grievance, grievance_Key=1)],
        user="t",
    )
    assert [r.status for r in results] == [201, 201]
    later = upsert_batch(Grievance, [sample_item(Grievance) for _ in range(3)], user="t")
    assert [r.status for r in later] == [201, 201, 201]
    assigned = keys(later)
    assert len(set(assigned)) == 3 and all(2 <= k < top for k in assigned)
    (again,) = upsert_batch(Grievance, [sample_item(Grievance)], user="t")
    assert again.status == 201 and again.key not in {1, top, *assigned}


# A batch's explicit keys are reserved before it writes (vbaproject.engine.keys.reserve_keys) -----


def _next_keys(model, count):
    """The next ``count`` keys the server would assign (one is drawn, and its record kept)."""
    (probe,) = upsert_batch(model, [sample_item(model)], user="t")
    return [type(probe.key)(int(probe.key) + n) for n in range(1, count + 1)]


def _interleaved(model, explicit, assigned_count, settings):
    """Write a batch naming ``explicit`` keys; between its first and second chunk (each its own
    transaction, on the same database) another batch has ``assigned_count`` keys assigned.
    Gives (the explicit batch's outcomes, the assigning batch's)."""
    from vbaproject.engine import faults

    settings.VBA_BATCH_CHUNK_ROWS = 50
    key = entity_spec(model).key.name
    others = []

    def another_batch(connection, chunk):
        if not others:  # once: the other batch's own chunks pass this point too
            others.append(None)
            others[:] = upsert_batch(model, [sample_item(model) for _ in range(assigned_count)], user="b")

    with faults.installed({("before_transaction", 2): another_batch}):
        first = upsert_batch(model, [sample_item(model, **{key: k}) for k in explicit], user="a")
    return first, others


@pytest.mark.usefixtures("keep_key_sequences")
def test_keys_assigned_between_a_batchs_chunks_avoid_its_later_keys(demo_db, settings):
    """Issue 12: B's keys were drawn after A's first chunk moved the sequence only that far,
    and A's later chunks then updated B's new records (200 for keys A never created)."""
    explicit = _next_keys(Grievance, 150)  # three chunks of 50, where B's keys would come from
    first, others = _interleaved(Grievance, explicit, 120, settings)
    assert len(others) == 120, "the other batch did not run between the chunks"
    assert [r.status for r in first] == [201] * 150, "an explicit key found a record it did not create"
    assert [r.status for r in others] == [201] * 120
    assert not set(keys(others)) & set(explicit)
    assert Grievance.objects.count() == 1 + 270


@pytest.mark.usefixtures("keep_key_sequences")
def test_auth_numbers_assigned_between_a_batchs_chunks_avoid_its_later_numbers(demo_db, settings):
    numbers = _next_keys(Auth, 150)
    first, others = _interleaved(Auth, numbers, 120, settings)
    assert len(others) == 120
    assert [r.status for r in first] == [201] * 150
    assert [r.status for r in others] == [201] * 120
    assert not set(keys(others)) & set(numbers)


@pytest.mark.usefixtures("keep_key_sequences")
def test_a_batch_of_updates_reserves_nothing(demo_db):
    """Keys below the sequence (updates, the common case) cost one statement, and no lock."""
    created = upsert_batch(Grievance, [sample_item(Grievance) for _ in range(3)], user="t")
    items = [sample_item(Grievance, grievance_Key=r.key) for r in created]
    with CaptureQueriesContext(connections[demo_db]) as queries:
        assert [r.status for r in upsert_batch(Grievance, items, user="t")] == [200] * 3
    assert not any("advisory_xact_lock(" in q["sql"] and "shared" not in q["sql"] for q in queries)
