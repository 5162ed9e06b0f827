"""Issue codes and pointers: how an adapter tells the submitter what the national system refused, and where.

The submitter reads every :class:`~gateway.errors.Issue` of a rejected Response; the conventions make issues
from 23 national systems look alike:

- **code** ``<MEMBER>-<SYSTEM>-<REASON>``, upper case, words joined by hyphens: ``FJ-ASYCUDA-DUPLICATE-LRN``.
  MEMBER is the destination member, SYSTEM the national system (the adapter's system tag, such as
  ``ASYCUDA`` or ``TSW``), REASON the national system's own error code when it has one (so its help desk
  recognises it), else a short name of the rule. :func:`issue_code` builds and checks it.
- **pointer** (``Issue.path``): where the fault is *in the submitter's own document*, in the form the
  gateway's schema errors use: local element names from the root, with a 1-based position where an element
  has same-named siblings, e.g. ``/MetaData/Declaration/GoodsShipment/GovernmentAgencyGoodsItem[2]/Commodity``.
  Never a path of the national format (the trader has never seen it).
- A declaration the national system **cannot take** (a field its format has no room for, a code it does not
  know, a limit it sets) is a rejection the trader can act on: return :func:`cannot_take`'s answer, with a
  pointer to the element to change. It is not an ``AdapterProtocolError`` (that parks the message as the
  gateway's problem) and not ``AdapterUnavailable`` (retrying would not help).
"""

from __future__ import annotations

import re

from gateway.errors import Issue
from gateway.sdk.interface import NationalAnswer
from gateway.sdk.model import DeclarationModel

__all__ = ["POINTER", "cannot_take", "issue_code", "national_issue", "too_many_items"]

_WORD = re.compile(r"[A-Z0-9_]+(?:-[A-Z0-9_]+)*")
POINTER = re.compile(r"(?:/[A-Za-z_][\w.-]*(?:\[[1-9]\d*\])?)+")
"""The pointer form: ``/Root/Child[2]/Leaf`` (local names, positions from 1)."""


def issue_code(member: str, system: str, reason: str) -> str:
    """Return ``<MEMBER>-<SYSTEM>-<REASON>``; spaces, dots and slashes become hyphens.

    Args:
        member: destination member code (``FJ``).
        system: the national system's tag (``ASYCUDA``).
        reason: the national error code or rule name (``duplicate lrn``, ``E_1042``).

    Raises:
        ValueError: a part is empty or holds characters other than letters, digits and separators.
    """
    parts = []
    for name, value in (("member", member), ("system", system), ("reason", reason)):
        word = re.sub(r"[\s./]+", "-", value.strip()).upper().strip("-")
        if not _WORD.fullmatch(word):
            raise ValueError(f"issue code {name} must be letters, digits and underscores joined by hyphens, not {value!r}")
        parts.append(word)
    return "-".join(parts)


def national_issue(member: str, system: str, reason: str, message: str, *, pointer: str | None = None) -> Issue:
    """Return an Issue under the conventions: a coded reason, the words, and where in the submitter's document.

    Args:
        member: destination member code.
        system: the national system's tag.
        reason: the national error code or rule name.
        message: what is wrong, in words the trader understands (the national text is fine).
        pointer: the element in the submitter's document (see :data:`POINTER`); None when the fault is not
            tied to one element.

    Raises:
        ValueError: a code part or the pointer does not follow the conventions (a bug in the adapter).
    """
    if pointer is not None and not POINTER.fullmatch(pointer):
        raise ValueError(f"a pointer is a path such as /MetaData/Declaration/GoodsShipment/"
                         f"GovernmentAgencyGoodsItem[2]/Commodity, not {pointer!r}")
    return Issue(issue_code(member, system, reason), message, path=pointer)


def cannot_take(member: str, system: str, reason: str, message: str, *, pointer: str | None = None,
                raw: bytes | None = None) -> NationalAnswer:
    """Return the answer for a declaration the national system cannot take: rejected, with the reason and where.

    The worker sends the submitter a rejected Response with this issue; nothing is retried or parked, and the
    national system registered nothing.

    Args:
        member: destination member code.
        system: the national system's tag.
        reason: why (``TOO-MANY-ITEMS``, ``CURRENCY-UNKNOWN``...).
        message: what the trader should change.
        pointer: the element to change, in the submitter's document.
        raw: the national answer, when the system itself said it cannot take the document.
    """
    return NationalAnswer(False, issues=(national_issue(member, system, reason, message, pointer=pointer),), raw=raw)


def too_many_items(model: DeclarationModel, limit: int | None, *, member: str, system: str) -> NationalAnswer | None:
    """Return :func:`cannot_take`'s answer when the declaration has more goods items than the national system
    takes (``TOO-MANY-ITEMS``, pointing at the first item too many), else None.

    Args:
        model: the declaration's model.
        limit: the most goods items one declaration may have there; None for no limit.
        member: destination member code.
        system: the national system's tag.
    """
    if limit is None or len(model.items) <= limit:
        return None
    return cannot_take(member, system, "TOO-MANY-ITEMS",
                       f"the declaration has {len(model.items)} goods items; the national system of {member} takes "
                       f"at most {limit} per declaration: split it into several declarations",
                       pointer=model.items[limit].pointer)
