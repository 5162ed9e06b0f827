"""The Kafka Admin API calls aiokafka 0.14 lacks: ACLs (describe, create, delete) and SCRAM credentials.

aiokafka's admin client has no ACL or SCRAM methods, but its connection negotiates versions and sends any
request built from its protocol classes: the ACL requests (v1) are aiokafka's own structures, the two SCRAM
requests (DescribeUserScramCredentials and AlterUserScramCredentials, v0, flexible) are declared here from
Kafka's protocol definition. So provisioning needs no JVM: it runs wherever the gateway runs.

A SCRAM password never travels: the salted password is derived here (PBKDF2, RFC 5802) and only it and its
salt are sent, over the same authenticated connection as every other admin request.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError, for_code
from aiokafka.protocol.admin import (
    CreateAclsRequest_v1,
    CreateAclsResponse_v1,
    DeleteAclsRequest_v1,
    DeleteAclsResponse_v1,
    DescribeAclsRequest_v1,
    DescribeAclsResponse_v1,
)
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import (
    CompactArray,
    CompactBytes,
    CompactString,
    Int8,
    Int16,
    Int32,
    Schema,
    TaggedFields,
)

__all__ = ["SCRAM_ITERATIONS", "AclBinding", "KafkaAdminError", "ScramUser", "create_acls", "delete_acls",
           "delete_scram", "describe_acls", "describe_scram", "upsert_scram"]

SCRAM_ITERATIONS = 8192  # Kafka accepts 4096 to 16384
_SCRAM_MECHANISMS = {"SCRAM-SHA-256": (1, "sha256"), "SCRAM-SHA-512": (2, "sha512")}
_MECHANISM_NAMES = {code: name for name, (code, _) in _SCRAM_MECHANISMS.items()}

# Kafka's wire codes (org.apache.kafka.common.resource / acl).
_RESOURCE = {"TOPIC": 2, "GROUP": 3, "CLUSTER": 4, "TRANSACTIONAL_ID": 5, "DELEGATION_TOKEN": 6, "USER": 7}
_PATTERN = {"LITERAL": 3, "PREFIXED": 4}
_OPERATION = {"ALL": 2, "READ": 3, "WRITE": 4, "CREATE": 5, "DELETE": 6, "ALTER": 7, "DESCRIBE": 8,
              "CLUSTER_ACTION": 9, "DESCRIBE_CONFIGS": 10, "ALTER_CONFIGS": 11, "IDEMPOTENT_WRITE": 12,
              "CREATE_TOKENS": 13, "DESCRIBE_TOKENS": 14, "TWO_PHASE_COMMIT": 15}
_PERMISSION = {"DENY": 2, "ALLOW": 3}
_ANY = 1  # the "any" value of every filter field
_MATCH_ANY_PATTERN = 1


def _name(table: dict[str, int], code: int) -> str:
    return next((name for name, value in table.items() if value == code), f"UNKNOWN({code})")


class KafkaAdminError(Exception):
    """The broker refused an ACL or SCRAM request (authorisation, a bad value): the message says which."""


@dataclass(frozen=True, order=True, slots=True)
class AclBinding:
    """One ACL: ``principal`` may (``ALLOW``) or may not (``DENY``) do ``operation`` on a resource.

    Args:
        principal: ``User:<name>``.
        resource: ``TOPIC``, ``GROUP`` or ``CLUSTER`` (``kafka-cluster``).
        name: the resource name, or the prefix of the names it covers.
        pattern: ``LITERAL`` (that one name) or ``PREFIXED`` (every name starting so).
        operation: ``READ``, ``WRITE``, ``CREATE``, ``DESCRIBE``...
        permission: ``ALLOW`` or ``DENY``.
        host: the client host it applies to (``*``: any).
    """

    principal: str
    resource: str
    name: str
    pattern: str
    operation: str
    permission: str = "ALLOW"
    host: str = "*"

    def __str__(self) -> str:
        what = f"{self.resource.lower()} {self.name}" + ("*" if self.pattern == "PREFIXED" else "")
        return f"{self.principal} {self.permission.lower()} {self.operation.lower()} on {what}"

    def _wire(self) -> tuple[int, str, int, str, str, int, int]:
        return (_RESOURCE[self.resource], self.name, _PATTERN[self.pattern], self.principal, self.host,
                _OPERATION[self.operation], _PERMISSION[self.permission])


@dataclass(frozen=True, slots=True)
class ScramUser:
    """A user that has SCRAM credentials, and for which mechanisms (``{"SCRAM-SHA-256": 8192}``: iterations)."""

    name: str
    mechanisms: dict[str, int]


# ------------------------------------------------------------------------------------------------ the requests

class _Acls(Request[Any]):
    """Any of the three ACL requests at v1 (the lowest Kafka 4 accepts), with every binding in one request."""

    API_KEY: ClassVar[int] = 0

    def __init__(self, struct: type[RequestStruct], payload: list[Any]) -> None:
        self._struct = struct
        self._payload = payload

    def prepare(self, versions: dict[int, tuple[int, int]]) -> Any:
        low, high = versions.get(self._struct.API_KEY, (0, -1))
        if not low <= self._struct.API_VERSION <= high:
            raise KafkaAdminError(f"the broker does not speak API {self._struct.API_KEY} v{self._struct.API_VERSION}"
                                  f" (it offers v{low} to v{high})")
        return self._struct(*self._payload)

    def build(self, request_struct_class: type[Any]) -> Any:  # prepare() is overridden; never called
        raise NotImplementedError


class _DescribeScramResponse(Response):
    API_KEY = 50
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("error_code", Int16),
        ("error_message", CompactString("utf-8")),
        ("results", CompactArray(
            ("user", CompactString("utf-8")),
            ("error_code", Int16),
            ("error_message", CompactString("utf-8")),
            ("credential_infos", CompactArray(("mechanism", Int8), ("iterations", Int32), ("tags", TaggedFields))),
            ("tags", TaggedFields))),
        ("tags", TaggedFields),
    )


class _DescribeScramRequest(RequestStruct):
    FLEXIBLE_VERSION = True
    API_KEY = 50
    API_VERSION = 0
    RESPONSE_TYPE = _DescribeScramResponse
    SCHEMA = Schema(("users", CompactArray(("name", CompactString("utf-8")), ("tags", TaggedFields))),
                    ("tags", TaggedFields))


class _AlterScramResponse(Response):
    API_KEY = 51
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("results", CompactArray(("user_name", CompactString("utf-8")), ("error_code", Int16),
                                 ("error_message", CompactString("utf-8")), ("tags", TaggedFields))),
        ("tags", TaggedFields),
    )


class _AlterScramRequest(RequestStruct):
    FLEXIBLE_VERSION = True
    API_KEY = 51
    API_VERSION = 0
    RESPONSE_TYPE = _AlterScramResponse
    SCHEMA = Schema(
        ("deletions", CompactArray(("name", CompactString("utf-8")), ("mechanism", Int8), ("tags", TaggedFields))),
        ("upsertions", CompactArray(("name", CompactString("utf-8")), ("mechanism", Int8), ("iterations", Int32),
                                    ("salt", CompactBytes), ("salted_password", CompactBytes),
                                    ("tags", TaggedFields))),
        ("tags", TaggedFields),
    )


async def _send(admin: AIOKafkaAdminClient, struct: type[RequestStruct], *payload: Any) -> Any:
    try:
        return await admin._send_request(_Acls(struct, list(payload)))  # noqa: SLF001 - no public call for these
    except KafkaError as exc:
        raise KafkaAdminError(f"{struct.__name__.split('Request')[0].lstrip('_')}: {exc}") from exc


def _check(code: int, message: str | None, what: str) -> None:
    if code:
        error = for_code(code)
        raise KafkaAdminError(f"{what}: {error.__name__}{': ' + message if message else ''}")


# ------------------------------------------------------------------------------------------------------- ACLs

async def describe_acls(admin: AIOKafkaAdminClient) -> set[AclBinding]:
    """Return every ACL binding of the cluster.

    Raises:
        KafkaAdminError: refused (the caller needs Describe on the cluster: a super user).
    """
    response = await _send(admin, DescribeAclsRequest_v1, _ANY, None, _MATCH_ANY_PATTERN, None, None, _ANY, _ANY)
    assert isinstance(response, DescribeAclsResponse_v1)
    _check(response.error_code, response.error_message, "describing the ACLs")
    found = set()
    for resource_type, name, pattern, acls in response.resources:
        for principal, host, operation, permission in acls:
            found.add(AclBinding(principal, _name(_RESOURCE, resource_type), name, _name(_PATTERN, pattern),
                                 _name(_OPERATION, operation), _name(_PERMISSION, permission), host))
    return found


async def create_acls(admin: AIOKafkaAdminClient, bindings: Iterable[AclBinding]) -> None:
    """Create ACL bindings (one that exists already is left as it is).

    Raises:
        KafkaAdminError: a binding was refused; the message names it.
    """
    wanted = sorted(bindings)
    if not wanted:
        return
    response = await _send(admin, CreateAclsRequest_v1, [b._wire() for b in wanted])
    assert isinstance(response, CreateAclsResponse_v1)
    for binding, (code, message) in zip(wanted, response.creation_responses, strict=True):
        _check(code, message, f"creating the ACL {binding}")


async def delete_acls(admin: AIOKafkaAdminClient, bindings: Iterable[AclBinding]) -> int:
    """Delete exactly these ACL bindings; return how many the broker removed.

    Raises:
        KafkaAdminError: a deletion was refused.
    """
    doomed = sorted(bindings)
    if not doomed:
        return 0
    response = await _send(admin, DeleteAclsRequest_v1, [b._wire() for b in doomed])
    assert isinstance(response, DeleteAclsResponse_v1)
    removed = 0
    for binding, (code, message, matching) in zip(doomed, response.filter_responses, strict=True):
        _check(code, message, f"deleting the ACL {binding}")
        removed += len(matching)
    return removed


# ---------------------------------------------------------------------------------------------------- SCRAM

def salted_password(password: str, salt: bytes, iterations: int, mechanism: str = "SCRAM-SHA-256") -> bytes:
    """Return SCRAM's SaltedPassword, Hi(password, salt, i) of RFC 5802: what the broker derives its keys from."""
    return hashlib.pbkdf2_hmac(_SCRAM_MECHANISMS[mechanism][1], password.encode("utf-8"), salt, iterations)


async def describe_scram(admin: AIOKafkaAdminClient) -> dict[str, ScramUser]:
    """Return every user with SCRAM credentials, by name.

    Raises:
        KafkaAdminError: refused (the caller needs Describe on the cluster: a super user).
    """
    response = await _send(admin, _DescribeScramRequest, None, {})
    _check(response.error_code, response.error_message, "describing the SCRAM users")
    users = {}
    for user, code, message, infos, _tags in response.results:
        _check(code, message, f"describing the SCRAM credentials of {user}")
        users[user] = ScramUser(user, {_MECHANISM_NAMES.get(m, f"UNKNOWN({m})"): i for m, i, _t in infos})
    return users


async def upsert_scram(admin: AIOKafkaAdminClient, passwords: dict[str, str], *, mechanism: str = "SCRAM-SHA-256",
                       iterations: int = SCRAM_ITERATIONS) -> None:
    """Create or replace the SCRAM credentials of users (a fresh salt each time).

    Args:
        admin: a started admin client of a super user.
        passwords: user name -> password.
        mechanism: SCRAM-SHA-256 or SCRAM-SHA-512.
        iterations: PBKDF2 iterations.

    Raises:
        KafkaAdminError: refused; the message names the user.
    """
    if not passwords:
        return
    code = _SCRAM_MECHANISMS[mechanism][0]
    upsertions = []
    for name, password in sorted(passwords.items()):
        salt = secrets.token_bytes(32)
        # PBKDF2 takes a few milliseconds per user: off the event loop.
        salted = await asyncio.to_thread(salted_password, password, salt, iterations, mechanism)
        upsertions.append((name, code, iterations, salt, salted, {}))
    response = await _send(admin, _AlterScramRequest, [], upsertions, {})
    for user, err, message, _tags in response.results:
        _check(err, message, f"setting the SCRAM credential of {user}")


async def delete_scram(admin: AIOKafkaAdminClient, users: Sequence[ScramUser]) -> None:
    """Delete every SCRAM credential of these users.

    Raises:
        KafkaAdminError: refused; the message names the user.
    """
    deletions = [(u.name, _SCRAM_MECHANISMS[m][0], {}) for u in users for m in u.mechanisms if m in _SCRAM_MECHANISMS]
    if not deletions:
        return
    response = await _send(admin, _AlterScramRequest, deletions, [], {})
    for user, err, message, _tags in response.results:
        _check(err, message, f"deleting the SCRAM credential of {user}")
