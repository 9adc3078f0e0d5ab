"""Search as people paste: the member as the lists show it, ``S615226-01``.

The lists show a member as subscriber ID and member sequence joined by a dash (the *member*
column, ``vbaproject.record_labels.member_label``), so that is what staff copy into the search
box, from the list, a letter or another system. The entity admins' search
(``vbaproject.admin.scale.search``) matches each field by prefix, where ``S615226-01`` is no
subscriber ID's prefix; ``member_term_q`` reads such a term as that member as well: the
subscriber ID in any case, exactly (``UPPER(subscriber_ID) = 'S615226'``, which the
``UPPER(subscriber_ID)`` prefix index serves), and the member sequence ``01`` (``1`` too).

``MemberSearchMixin`` adds this to an admin's own search without replacing it: every other term
goes to the admin's search as it is (a subscriber ID alone by prefix, keys exactly, ...), and a
term in the member form matches that member *or* whatever the admin's search finds for it; terms
are ANDed, as in Django. It is on the admins of entities with a member: grievances, care cases
(and so the clinical trial's case picker) and auths.
"""

import re

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Q
from django.utils.text import smart_split

MEMBER_TERM = re.compile(r"^(?P<subscriber>[A-Za-z0-9]{1,9})-(?P<seq>[0-9A-Za-z]{1,2})$")


def has_member(model):
    try:
        model._meta.get_field("subscriber_ID")
        model._meta.get_field("member_Seq")
    except FieldDoesNotExist:
        return False
    return True


def split_member(term):
    """``("S615226", "01")`` for ``"s615226-01"``; ``None`` for a term of another shape."""
    match = MEMBER_TERM.match(term.strip())
    if not match:
        return None
    seq = match["seq"].upper()
    return match["subscriber"].upper(), seq.zfill(2) if seq.isdigit() else seq


def member_term_q(model):
    """For ``model`` with a member: the function that reads a search term as a member (a ``Q``,
    or ``None`` when the term is not in the member form); ``None`` for other models."""
    if not has_member(model):
        return None

    def term_q(term):
        parts = split_member(term)
        if parts is None:
            return None
        subscriber, seq = parts
        seqs = {seq, seq.lstrip("0") or "0"} if seq.isdigit() else {seq}
        return Q(subscriber_ID__iexact=subscriber, member_Seq__in=sorted(seqs))

    return term_q


class MemberSearchMixin:
    """For an entity admin: a search term in the member form also finds that member."""

    def get_search_results(self, request, queryset, search_term):
        term_q = member_term_q(self.model)
        terms = list(smart_split(search_term or ""))
        members = [term for term in terms if term_q is not None and term_q(term) is not None]
        if not members:
            return super().get_search_results(request, queryset, search_term)
        rest = " ".join(term for term in terms if term not in members)
        found, duplicates = (queryset, False)
        if rest:
            found, duplicates = super().get_search_results(request, queryset, rest)
        for term in members:
            as_typed, more = super().get_search_results(request, queryset, term)
            found = found & (queryset.filter(term_q(term)) | as_typed)
            duplicates = duplicates or more
        return found, duplicates
