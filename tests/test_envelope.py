"""The exception handler puts every DRF error, whatever the shape of its detail, in the envelope."""

import pytest
from rest_framework import exceptions

from vbaproject.api.exceptions import exception_handler


@pytest.mark.parametrize(
    ("error", "status", "detail"),
    [
        (exceptions.ValidationError("bad value"), 400, "bad value"),
        (exceptions.ValidationError({"page": ["must be 1 or more"]}), 400, "page: must be 1 or more"),
        (exceptions.NotFound(), 404, "Not found."),
        (exceptions.APIException("taken", code="conflict"), 500, "taken"),
    ],
)
def test_every_detail_shape_becomes_a_problem(error, status, detail):
    response = exception_handler(error, {})
    assert response.status_code == status
    assert response.data["data"] is None
    assert response.data["error"]["status"] == status
    assert response.data["error"]["detail"] == detail
    assert response.data["error"]["type"].startswith("https://")
