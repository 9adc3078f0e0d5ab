"""The admin: one site per client database (``sites``), the entity admins' base classes
(``base``), their actions (``actions``), and the control site's users and API keys (``control``).

Django's admin autodiscovery imports this package; importing ``control`` registers those pages.
"""

from vbaproject.admin import control

__all__ = ["control"]
