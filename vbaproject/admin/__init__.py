"""The admin's shared parts: the entity admins' base classes (``base``), the client-database
switcher (``database``), the actions (``actions``), and the users' and API keys' pages (``site``).

Django's admin autodiscovery imports this package; importing ``site`` registers those pages.
"""

from vbaproject.admin import site

__all__ = ["site"]
