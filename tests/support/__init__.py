"""What the tests share: the entity cases (``entities``), the envelope checks (``answers``), the
factories (``factories``), the API client (``api``) and the batch oracle (``oracle``).

``tests/conftest.py`` only declares the fixtures built from these.
"""
