"""Deactivation ends a user's ID tokens for good, and a revoked API key stays revoked.

The README says deactivating a user ends their ID tokens; they used to work again once the user
was reactivated. Tokens now carry the user's token generation (``vbaproject.models.TokenGeneration``),
which changes whenever the active flag does, by the admin's user page, a ``save()`` or even a
queryset ``update()`` followed by a save.
"""

import jwt
import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from grievances.models import Grievance
from tests.support.answers import problem_of
from tests.support.entities import batch_url
from tests.support.factories import StaffFactory
from tests.test_admin import form_data
from vbaproject.accounts.tokens import signing_key
from vbaproject.models import ApiKey, TokenGeneration

pytestmark = pytest.mark.django_db(databases=["default", "demo", "other"])

BATCH = batch_url(Grievance)


def works(api):
    """Whether the api client's credentials still open a route (207), else the 401's detail."""
    response = api.put(BATCH, [])
    if response.status_code == 207:
        return True
    error = problem_of(response, 401)
    assert response["WWW-Authenticate"].endswith('error="invalid_token"')
    return error["detail"]


def test_a_token_stays_dead_after_the_user_is_reactivated(api):
    assert works(api) is True
    api.user.is_active = False
    api.user.save()
    assert "deactivated" in works(api)
    api.user.is_active = True
    api.user.save()
    assert "deactivated" in works(api)  # reactivation does not revive it
    # A fresh login works.
    response = api.log_in(api.username, api.password)
    api.credentials["Authorization"] = f"Bearer {response.json()['data']['authenticationResult']['idToken']}"
    assert works(api) is True


def test_deactivated_by_a_queryset_update_then_reactivated_by_a_save(api):
    User = get_user_model()
    User.objects.filter(pk=api.user.pk).update(is_active=False)  # no signal: refused while inactive
    assert "deactivated" in works(api)
    user = User.objects.get(pk=api.user.pk)
    user.is_active = True
    user.save()  # the flag changes here: a new generation
    assert "deactivated" in works(api)


def test_other_saves_leave_tokens_alone(api):
    api.user.first_name = "Carla"
    api.user.save()
    api.user.save(update_fields=["last_login"])
    assert works(api) is True
    assert not TokenGeneration.objects.filter(user=api.user).exists()


def test_tokens_issued_before_generations_existed_still_work(api):
    """A token without the gen claim counts as generation 0: no forced re-login on upgrade."""
    claims = jwt.decode(api.id_token, signing_key(), algorithms=["HS256"], audience="vbasoftware")
    del claims["gen"]
    api.credentials["Authorization"] = f"Bearer {jwt.encode(claims, signing_key(), algorithm='HS256')}"
    assert works(api) is True
    api.user.is_active = False
    api.user.save()
    api.user.is_active = True
    api.user.save()
    assert "deactivated" in works(api)


def test_deactivating_and_reactivating_on_the_admins_user_page(api, client):
    client.force_login(StaffFactory(username="boss", is_superuser=True))
    url = f"/admin/auth/user/{api.user.pk}/change/"
    page = client.get(url)
    assert client.post(url, form_data(page, is_active="", _save="Save")).status_code == 302
    page = client.get(url)
    data = form_data(page, is_active="on", _save="Save")
    assert client.post(url, data).status_code == 302
    assert get_user_model().objects.get(pk=api.user.pk).is_active
    assert "deactivated" in works(api)


def test_a_revoked_api_key_stays_revoked(api, client):
    api.api_key.revoked = True
    api.api_key.save()
    assert problem_of(api.put(BATCH, []), 401)
    key = ApiKey.objects.get(pk=api.api_key.pk)
    key.revoked = False
    with pytest.raises(ValidationError):
        key.save()
    # The admin shows a revoked key's revoked flag read-only: posting it unchecked changes nothing.
    client.force_login(StaffFactory(username="boss", is_superuser=True))
    url = f"/admin/vbaproject/apikey/{api.api_key.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    client.post(url, form_data(page, revoked="", _save="Save"))
    assert ApiKey.objects.get(pk=api.api_key.pk).revoked
    assert problem_of(api.put(BATCH, []), 401)
