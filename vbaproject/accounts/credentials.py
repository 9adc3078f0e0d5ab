"""Credentials verified once per short window, and ended at once when anything about them changes.

Checking an API key and an ID token costs two control-database reads, a SHA-512 and an HMAC,
and which databases the caller may use a third read: more than the whole write of a 1-item
PUT. So each worker process keeps what it verified, keyed by a digest of the two header values,
for ``VBA_CREDENTIALS_CACHE_SECONDS`` (default 60; 0 turns the cache off), and reuses it only
while all of these hold:

- the *credentials epoch* in the shared cache (Redis) is the one it was verified under. Every
  save or delete of an API key, a user, a token generation or a database grant (signals,
  connected in ``vbaproject.apps``), and ``api_keys_revoke`` (a queryset update, no signal),
  sets a new random epoch: revocation, a password change, deactivation and a changed grant end
  every cached credential in every worker at once. The epoch is set again when the
  transaction commits, so a request verifying between the save and the COMMIT cannot cache
  the old state under the new epoch;
- the API key's ``expiry_date`` and the token's ``exp`` are still in the future (checked on
  every use, so expiry needs no event);
- the shared cache answers, and is shared: with no ``VBA_CACHE_URL`` each process's cache is
  its own memory, where a change made by another process (the admin, a command) would go
  unseen, so nothing is cached then (tests of one process set
  ``VBA_CREDENTIALS_CACHE_LOCAL``). During a Redis outage (``vbaproject.cache_outage``) nothing is
  reused, every request verifies in full, and this process forgets what it cached, since a
  change made meanwhile could not set the epoch.

A request therefore costs one read of the epoch from the shared cache instead of three
database reads and two hashes. Anything else (a forged or changed header) misses the cache and
is verified in full.
"""

import hashlib
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import transaction
from django.utils import timezone

from vbaproject.cache_outage import shared_cache

logger = logging.getLogger(__name__)

EPOCH_KEY = "vba:credentials:epoch"
MAX_ENTRIES = 10_000  # a process forgets everything past this many (a flood of distinct tokens)


@dataclass(slots=True)
class Credentials:
    """What one (API key, ID token) pair was verified to be."""

    user: object
    api_key: object
    token_expires: float  # the token's exp claim (epoch seconds)
    epoch: str
    verified_at: float  # time.monotonic()
    databases: list | None = field(default=None)  # caller_databases, filled on first use

    def usable(self, epoch, now, window):
        if epoch != self.epoch or now - self.verified_at >= window or time.time() >= self.token_expires:
            return False
        expiry = self.api_key.expiry_date
        return expiry is None or expiry > timezone.now()


_entries: dict[bytes, Credentials] = {}
_lock = threading.Lock()


def window_seconds():
    return float(getattr(settings, "VBA_CREDENTIALS_CACHE_SECONDS", 60))


def _shared():
    return not isinstance(caches["default"], LocMemCache) or getattr(
        settings, "VBA_CREDENTIALS_CACHE_LOCAL", False
    )


def digest(api_key_header, token):
    return hashlib.blake2b(f"{api_key_header}\x00{token}".encode(), digest_size=32).digest()


def _outage(cache):
    _entries.clear()  # a change made during the outage could not set the epoch
    return None


def current_epoch():
    """The epoch in the shared cache (made when missing), or None when the cache is down."""

    def read(cache):
        epoch = cache.get(EPOCH_KEY)
        if epoch is None:
            cache.add(EPOCH_KEY, uuid.uuid4().hex, timeout=None)
            epoch = cache.get(EPOCH_KEY)
        return epoch

    return shared_cache(read, fallback=_outage)


def lookup(key):
    """The cached ``Credentials`` for ``key`` if still usable, and the epoch to store a fresh
    verification under (None: do not cache)."""
    window = window_seconds()
    if window <= 0 or not _shared():
        return None, None
    epoch = current_epoch()
    if epoch is None:
        return None, None
    entry = _entries.get(key)
    if entry is not None and entry.usable(epoch, time.monotonic(), window):
        return entry, epoch
    return None, epoch


def store(key, epoch, user, api_key, token_expires):
    """Keep a verification made under ``epoch`` (read before verifying began)."""
    entry = Credentials(user, api_key, token_expires, epoch, time.monotonic())
    with _lock:
        if len(_entries) >= MAX_ENTRIES:
            _entries.clear()
        _entries[key] = entry
    return entry


def forget_all():
    """This process's cache only (tests); ``credentials_changed`` ends every process's."""
    _entries.clear()


def _new_epoch():
    def write(cache):
        cache.set(EPOCH_KEY, uuid.uuid4().hex, timeout=None)

    def down(cache):
        _entries.clear()
        logger.warning(
            "the shared cache is down: other processes learn of a credentials change "
            "when it is back or within VBA_CREDENTIALS_CACHE_SECONDS"
        )

    shared_cache(write, fallback=down)


def credentials_changed(using=None):
    """End every cached credential in every process: now, and again when the transaction commits."""
    _entries.clear()
    _new_epoch()
    transaction.on_commit(_new_epoch, using=using)


def on_credentials_saved(sender, instance=None, using=None, update_fields=None, **kwargs):
    """post_save / post_delete of an API key, a user, a token generation or a database grant
    (an admin login's ``last_login`` alone changes nothing a verification read)."""
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return
    credentials_changed(using)


def _on_setting_changed(setting, **kwargs):
    if setting in {"CACHES", "DATABASES", "VBA_DATABASES"}:  # tests: another cache or configuration
        forget_all()


def connect_signals():
    """From ``AppConfig.ready``: every model a verification read, saved or deleted, changes the epoch."""
    from django.contrib.auth import get_user_model
    from django.core.signals import setting_changed
    from django.db.models.signals import post_delete, post_save

    from vbaproject.models import ApiKey, TokenGeneration, UserDatabase

    for model in (ApiKey, get_user_model(), TokenGeneration, UserDatabase):
        for signal in (post_save, post_delete):
            signal.connect(
                on_credentials_saved, sender=model, dispatch_uid=f"vba_credentials_{model.__name__}"
            )
    setting_changed.connect(_on_setting_changed, dispatch_uid="vba_credentials_settings")
