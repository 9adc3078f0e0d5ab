"""The VBAPI envelope, checked in one place: ``data_of`` for successes, ``problem_of`` for errors.

Every answer is ``{"data": ..., "debug": {"activityID": ...}}``, plus ``"error"`` when the
request failed as a whole, with the activity ID also in the ``x-activity-id`` header (README,
*For API consumers*).
"""


def _envelope(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert body["debug"]["activityID"] == response["x-activity-id"]
    return body


def data_of(response, status):
    """The ``data`` of a success with ``status``: the envelope has no error member at all (not even
    null: VBASoftware's schema makes it a non-nullable object)."""
    body = _envelope(response, status)
    assert "error" not in body, body
    return body["data"]


def problem_of(response, status):
    """The ``error`` (problem details) of a failure with ``status``: the envelope holds no data."""
    body = _envelope(response, status)
    assert body["data"] is None, body
    error = body["error"]
    assert {"type", "title", "status", "detail", "instance"} <= set(error), error
    assert error["status"] == status, error
    assert error["type"] and error["title"] and error["detail"], error
    return error
