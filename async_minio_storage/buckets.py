"""Buckets: creating them, and setting who may read them.

``initialize_buckets`` (the management command, and ``MINIO_CONSISTENCY_CHECK_ON_START``) brings
every configured bucket to its declared state, concurrently:

- every bucket in ``MINIO_PRIVATE_BUCKETS``, ``MINIO_PUBLIC_BUCKETS`` and
  ``MINIO_POLICY_HOOKS``, and the bucket of each configured storage, exists (the default media
  and static buckets only when a configured storage uses them);
- a public bucket has exactly an anonymous *read* policy: ``s3:GetObject`` on its objects, no
  listing and no writes (django-minio-backend also allowed anonymous listing);
- a private bucket has no policy granting anything to anonymous users;
- then each ``MINIO_POLICY_HOOKS`` policy is applied, once.

Running it twice changes nothing the second time.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from . import wire
from .client import Connection
from .client import get_connection
from .config import ConnectionSettings
from .config import StorageConfig

# Buckets known to exist, per (endpoint, bucket), so that MINIO_BUCKET_CHECK_ON_SAVE costs one
# check per bucket per process rather than one per save.
_known_buckets: set[tuple[str, str]] = set()


def public_read_policy(bucket: str) -> dict[str, Any]:
    """Anyone may read objects; nobody anonymous may list, write or delete."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": ["*"]},
                "Action": ["s3:GetObject"],
                "Resource": [f"arn:aws:s3:::{bucket}/*"],
            }
        ],
    }


async def ensure_bucket(connection: Connection, bucket: str) -> bool:
    """Create ``bucket`` if it is missing; True if this call created it."""
    if await wire.bucket_exists(connection, bucket):
        return False
    # False when it was created meanwhile, by another process.
    return await wire.make_bucket(connection, bucket)


async def ensure_bucket_once(connection: Connection, bucket: str) -> None:
    """:func:`ensure_bucket`, at most once per bucket per process."""
    known = (connection.settings.endpoint, bucket)
    if known in _known_buckets:
        return
    await ensure_bucket(connection, bucket)
    _known_buckets.add(known)


async def read_policy(connection: Connection, bucket: str) -> dict[str, Any] | None:
    policy = await wire.get_bucket_policy(connection, bucket)
    return json.loads(policy) if policy is not None else None


def normalized_policy(policy: Any) -> Any:
    """A policy in a form where equivalent documents compare equal.

    Servers rewrite the policies they store: MinIO and SeaweedFS return ``"s3:GetObject"``
    for ``["s3:GetObject"]``, and ``"*"`` and ``{"AWS": ["*"]}`` name the same principal.
    """
    if isinstance(policy, dict):
        return {
            key: ({"AWS": "*"} if key == "Principal" and value == "*" else normalized_policy(value))
            for key, value in policy.items()
            if not (key == "Sid" and not value)
        }
    if isinstance(policy, list):
        items = sorted((normalized_policy(item) for item in policy), key=json.dumps)
        return items[0] if len(items) == 1 else items
    return policy


def same_policy(first: Any, second: Any) -> bool:
    return bool(normalized_policy(first) == normalized_policy(second))


def grants_anonymous_access(policy: dict[str, Any] | None) -> bool:
    if not policy:
        return False
    for statement in policy.get("Statement", []):
        principal = statement.get("Principal")
        if isinstance(principal, dict):
            principal = principal.get("AWS")
        principals = principal if isinstance(principal, list) else [principal]
        if statement.get("Effect") == "Allow" and "*" in principals:
            return True
    return False


@dataclass(frozen=True)
class BucketPlan:
    """One bucket and the state ``initialize_buckets`` gives it.

    ``hook_policy`` is the bucket's ``MINIO_POLICY_HOOKS`` policy (the last one given for it);
    a bucket policy is one document, so when a hook exists it *is* the bucket's policy.
    """

    name: str
    public: bool
    connection: ConnectionSettings
    hook_policy: str | None = None


def plan_buckets(configs: Iterable[tuple[StorageConfig, str]]) -> list[BucketPlan]:
    """Every bucket the given (config, bucket of a storage) pairs declare, each once."""
    plans: dict[tuple[str, str], BucketPlan] = {}
    for config, storage_bucket in configs:
        hooks = dict(config.policy_hooks)
        # Buckets a storage uses or a setting names; not the default media and static
        # buckets of storages that are not configured.
        names = [*config.private_buckets, *config.public_buckets, storage_bucket, *hooks]
        for name in names:
            plans.setdefault(
                (config.endpoint, name),
                BucketPlan(name, config.is_public(name), config.connection, hooks.get(name)),
            )
    return list(plans.values())


async def bring_to_plan(plan: BucketPlan) -> list[str]:
    """Create the bucket if needed and set its policy; describe what changed."""
    changes: list[str] = []
    connection = await get_connection(plan.connection)
    if await ensure_bucket(connection, plan.name):
        changes.append(f"created bucket {plan.name}")
    policy = await read_policy(connection, plan.name)
    if plan.hook_policy is not None:
        if not same_policy(policy, json.loads(plan.hook_policy)):
            await wire.set_bucket_policy(connection, plan.name, plan.hook_policy)
            changes.append(f"applied the MINIO_POLICY_HOOKS policy to bucket {plan.name}")
    elif plan.public:
        wanted = public_read_policy(plan.name)
        if not same_policy(policy, wanted):
            await wire.set_bucket_policy(connection, plan.name, json.dumps(wanted))
            changes.append(f"set anonymous read-only policy on public bucket {plan.name}")
    elif grants_anonymous_access(policy):
        await wire.set_bucket_policy(connection, plan.name, None)
        changes.append(f"removed the anonymous policy of private bucket {plan.name}")
    return changes


async def initialize_buckets(configs: Iterable[tuple[StorageConfig, str]]) -> list[str]:
    """Bring every declared bucket to its state, all buckets at once; return the changes."""
    results = await asyncio.gather(*(bring_to_plan(plan) for plan in plan_buckets(configs)))
    return [change for result in results for change in result]
