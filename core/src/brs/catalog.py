"""What the storage holds, judged: which backups a restore may pick and retention may count.

The engine reads every manifest once per listing (:class:`Catalog`). Each readable manifest
gets a :class:`Standing`: only ``usable`` backups are chosen by ``latest`` and by the sidecar's
automatic restore, and only they count towards ``--object-max-keep`` and may be deleted by
retention. Everything else is listed with the reason and left alone: a backup brs cannot vouch
for (unencrypted while a key is configured, a manifest whose MAC does not match, a key that is
not configured), a backup of another database on the same prefix, one dated in the future.
Manifests that cannot be read at all are counted in :attr:`Catalog.unreadable`, and the data
object next to any manifest file, readable or not, is never an orphan.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from brs import retention, trust, verification
from brs.crypto import Keyring
from brs.identity import same_database
from brs.interfaces import StoredObject
from brs.manifest import MANIFEST_SUFFIX, Identity, Manifest

__all__ = ["FUTURE_TOLERANCE", "ORPHAN_AGE", "Catalog", "Entry", "Policy", "RetentionPlan", "Standing", "is_own_data_object"]

#: A backup whose id is further ahead of this host's clock than this is "in the future".
FUTURE_TOLERANCE: Final = timedelta(minutes=5)
#: Unlisted data objects younger than this may still be uploading; older ones are orphans.
ORPHAN_AGE: Final = timedelta(hours=6)
# The data object names brs writes: backup id, ".tar", the method's suffix, ".aes" if encrypted.
_OWN_DATA_OBJECT: Final = re.compile(r"^\d{8}T\d{6}(?:\d{6})?Z-[0-9a-f]{6,32}\.tar(?:\.[a-z0-9]{1,8})?(?:\.aes)?$")


def is_own_data_object(name: str) -> bool:
    """Whether ``name`` has the exact shape of a data object brs writes (the tool brs replaces
    wrote ``db.tar.gz`` and the like, which never match)."""
    return bool(_OWN_DATA_OBJECT.match(name))


class Standing(enum.StrEnum):
    """How far a listed backup may be trusted here."""

    USABLE = "usable"
    #: Dated more than :data:`FUTURE_TOLERANCE` ahead: restorable, but never preferred to a
    #: backup dated now, never counted or deleted by retention.
    FUTURE = "future"
    #: Recorded by another database sharing the prefix.
    OTHER_DATABASE = "other-database"
    #: Not encrypted while a key is configured (``--allow-unencrypted`` accepts it).
    UNENCRYPTED = "unencrypted"
    #: Encrypted with a key that is not configured: its MAC cannot be checked, nor its data read.
    UNKNOWN_KEY = "unknown-key"
    #: The manifest's MAC is missing or wrong: forged or altered.
    TAMPERED = "tampered"
    #: A format-1 manifest (no MAC) dated after an authenticated one: brs no longer writes those.
    UNAUTHENTICATED = "unauthenticated"


#: Standings that ``find(VERSION)`` still accepts, with a warning: the user named the backup.
EXPLICITLY_RESTORABLE: Final = frozenset({Standing.USABLE, Standing.FUTURE, Standing.OTHER_DATABASE, Standing.UNAUTHENTICATED})


@dataclass(frozen=True)
class Policy:
    """What the run trusts: its keys, its database, and the user's explicit allowances."""

    keyring: Keyring
    identity: Identity
    now: datetime
    allow_unencrypted: bool = False
    allow_other_identity: bool = False


@dataclass(frozen=True)
class Entry:
    """One readable manifest and its standing; ``reason`` is one line for the user."""

    manifest: Manifest
    standing: Standing
    reason: str = ""
    #: When a ``brs verify`` of it last succeeded (:mod:`brs.verification`), if recorded.
    verified_at: str | None = None

    def summary(self) -> dict[str, Any]:
        return {**self.manifest.summary(), "status": self.standing.value, "status_reason": self.reason or None}


@dataclass(frozen=True)
class RetentionPlan:
    delete: list[Manifest]
    orphans: list[StoredObject]
    notes: list[str]
    #: What the policy decided for the usable backups, with the rules that keep each one.
    decision: retention.Decision


@dataclass
class Catalog:
    """Every manifest under the prefix, judged by one :class:`Policy`, newest first."""

    policy: Policy
    objects: list[StoredObject]
    entries: list[Entry] = field(default_factory=list)
    #: ``(manifest object name, reason)`` of manifests skipped as unreadable.
    unreadable: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def judge(
        cls, policy: Policy, objects: list[StoredObject], manifests: Iterable[Manifest], verified: dict[str, str] | None = None
    ) -> Catalog:
        catalog = cls(policy, objects)
        ordered = sorted(manifests, key=lambda m: (m.started, m.backup_id), reverse=True)
        authenticated = [m.started for m in ordered if m.format_version >= 2 and m.encrypted and trust.verify(m, policy.keyring)]
        oldest_authenticated = min(authenticated) if authenticated else None
        for manifest in ordered:
            standing, reason = catalog._standing(manifest, oldest_authenticated)
            catalog.entries.append(Entry(manifest, standing, reason, (verified or {}).get(manifest.backup_id)))
        return catalog

    def _standing(self, manifest: Manifest, oldest_authenticated: datetime | None) -> tuple[Standing, str]:
        trusted = self._trust(manifest, oldest_authenticated)
        if trusted is not None:
            return trusted
        policy, backup = self.policy, manifest.backup_id
        if not same_database(policy.identity, manifest.identity):
            return (
                Standing.OTHER_DATABASE,
                f"backup {backup} belongs to another database ({manifest.identity}), not {policy.identity}",
            )
        ahead = manifest.started - policy.now
        if ahead > FUTURE_TOLERANCE:
            return Standing.FUTURE, f"backup {backup} is dated {_days(ahead)} in the future (clock skew?)"
        return Standing.USABLE, ""

    def _trust(self, manifest: Manifest, oldest_authenticated: datetime | None) -> tuple[Standing, str] | None:
        """Why the keys do not vouch for ``manifest``, or None when they do (or there are none)."""
        policy, backup = self.policy, manifest.backup_id
        keyring = policy.keyring
        if not manifest.encrypted:
            if keyring and not policy.allow_unencrypted:
                return Standing.UNENCRYPTED, (
                    f"backup {backup} is not encrypted, but a key is configured; it is not used unless --allow-unencrypted is set"
                )
            return None
        if manifest.key_id is None:
            # The old tool's encryption names no key: reading it tries each configured key.
            if keyring:
                return None
            return Standing.UNKNOWN_KEY, f"backup {backup} is encrypted, but no encryption key is configured"
        if manifest.key_id not in keyring.ids:
            configured = ", ".join(keyring.ids) or "none"
            return Standing.UNKNOWN_KEY, f"backup {backup} is encrypted with key {manifest.key_id}; configured keys: {configured}"
        if manifest.format_version >= 2:
            if trust.verify(manifest, keyring):
                return None
            return (
                Standing.TAMPERED,
                f"the manifest of backup {backup} does not match its MAC: it was altered or forged, and is not used",
            )
        if oldest_authenticated is not None and manifest.started > oldest_authenticated:
            return Standing.UNAUTHENTICATED, (
                f"backup {backup} has a format-1 manifest (no MAC) dated after authenticated backups; "
                "brs no longer writes those, so it is not chosen automatically"
            )
        return None

    # -- choosing -------------------------------------------------------------------------
    def restorable(self) -> list[Manifest]:
        """What ``latest`` and the automatic restore pick from, in order of preference:
        usable backups newest first, then those dated in the future (never preferred to a
        backup dated now), with other databases' backups only under ``--allow-other-identity``."""
        wanted = {Standing.USABLE}
        if self.policy.allow_other_identity:
            wanted.add(Standing.OTHER_DATABASE)
        present = [e.manifest for e in self.entries if e.standing in wanted]
        future = [e.manifest for e in self.entries if e.standing is Standing.FUTURE]
        return present + future

    def lookup(self, version: str) -> Entry | None:
        for entry in self.entries:
            manifest = entry.manifest
            if version in manifest.names:
                return entry
        return None

    def passed_over(self) -> str:
        """One line on the listed backups that ``latest`` will not pick, or ``""``."""
        counts: dict[Standing, list[str]] = {}
        chosen = {m.backup_id for m in self.restorable()}
        for entry in self.entries:
            if entry.manifest.backup_id not in chosen:
                counts.setdefault(entry.standing, []).append(entry.manifest.backup_id)
        parts = []
        for standing, versions in counts.items():
            if standing is Standing.OTHER_DATABASE:
                hosts = sorted({str(e.manifest.identity) for e in self.entries if e.standing is standing})
                parts.append(f"{len(versions)} of other databases ({', '.join(hosts)}; --allow-other-identity adopts them)")
            elif standing is Standing.UNENCRYPTED:
                parts.append(f"{len(versions)} unencrypted (--allow-unencrypted accepts them)")
            else:
                parts.append(
                    f"{len(versions)} {standing.value} ({', '.join(versions[:3])}{', ...' if len(versions) > 3 else ''})"
                )
        if self.unreadable:
            parts.append(f"{len(self.unreadable)} unreadable manifests")
        return "; ".join(parts)

    def managed(self) -> list[Manifest]:
        """brs's own usable backups of this database, newest first: those whose manifest file
        it read (the old tool's backups have none). Only these count for, and go by, retention."""
        names = {obj.name for obj in self.objects}
        return [e.manifest for e in self.entries if e.standing is Standing.USABLE and e.manifest.manifest_name in names]

    def unusable_counts(self) -> dict[str, int]:
        """Per reason (every :class:`Standing` but usable, and ``unreadable``), how many listed
        backups ``latest`` does not pick; future-dated ones count although they are a fallback."""
        counts = {standing.value: 0 for standing in Standing if standing is not Standing.USABLE}
        chosen = {m.backup_id for m in self.restorable()}
        for entry in self.entries:
            passed_over = entry.standing is Standing.FUTURE or entry.manifest.backup_id not in chosen
            if entry.standing is not Standing.USABLE and passed_over:
                counts[entry.standing.value] += 1
        counts["unreadable"] = len(self.unreadable)
        return counts

    def ours_but_refused(self) -> list[Entry]:
        """Backups of this database (or of no recorded one) that cannot be used: a reason to
        stop instead of starting an empty database next to them."""
        return [e for e in self.entries if e.standing not in (Standing.USABLE, Standing.FUTURE, Standing.OTHER_DATABASE)]

    # -- retention ------------------------------------------------------------------------
    def plan_retention(self, rules: retention.Policy, protect: str | None) -> RetentionPlan:
        """Keep what ``rules`` keep of the usable backups (and ``protect``, the backup just
        taken); delete only the other usable ones and data objects of brs's own shape without
        any manifest file that are older than :data:`ORPHAN_AGE`.

        Only backups whose manifest file was read are brs's own: the old tool's backups (no
        manifest) are never counted or deleted, nor are backups dated in the future.
        """
        names = {obj.name for obj in self.objects}
        managed = self.managed()
        decision = retention.decide([retention.Snapshot(m.backup_id, m.started) for m in managed], rules, self.policy.now)
        if protect is not None and protect not in decision.reasons:
            decision.reasons[protect] = ["just taken"]
        delete = [m for m in managed if m.backup_id not in decision.reasons]
        cutoff = self.policy.now - ORPHAN_AGE
        orphans = [
            obj
            for obj in self.objects
            if _owner_object(obj.name) and _owner_object(obj.name) + MANIFEST_SUFFIX not in names and obj.modified < cutoff
        ]
        notes = [e.reason + "; retention neither counts nor deletes it" for e in self.entries if e.standing is Standing.FUTURE]
        others = [e for e in self.entries if e.standing is Standing.OTHER_DATABASE]
        if others:
            hosts = sorted({str(e.manifest.identity) for e in others})
            notes.append(f"retention leaves {len(others)} backups of other databases on this prefix alone ({', '.join(hosts)})")
        kept = self.ours_but_refused()
        if kept:
            notes.append(
                f"retention keeps {len(kept)} backups it cannot vouch for: "
                + ", ".join(f"{e.manifest.backup_id} ({e.standing.value})" for e in kept[:5])
                + (", ..." if len(kept) > 5 else "")
            )
        if self.unreadable:
            notes.append(f"retention keeps {len(self.unreadable)} unreadable manifests and their data objects")
        return RetentionPlan(delete, orphans, notes, decision)


def _owner_object(name: str) -> str:
    """The data object ``name`` is or belongs to (a verification record), if brs wrote it; else ``""``."""
    owner = verification.backup_object_of(name) or name
    return owner if is_own_data_object(owner) else ""


def _days(delta: timedelta) -> str:
    if delta >= timedelta(days=2):
        return f"{delta.days} days"
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} hours" if hours >= 1 else f"{delta.total_seconds() / 60:.0f} minutes"
