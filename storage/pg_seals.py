"""The PostgreSQL store's state digest, in groups (slots), so that commits of different cases do not queue
behind one row.

As in the TinyDB store (`storage._seal`), every case, small-table record and counter carries an HMAC seal
under the key kept outside the database, and the XOR of all those seals is kept sealed beside them: a row
deleted, an older copy put back, or one added outside the program changes the XOR without a way to seal
the new value. Here the XOR is split into `SLOTS` groups by the row's kind and key (`slot_of`), each a row
of `seal_slots` (digest, seal = `Sealer.slot(n, digest)`), updated in the transaction of the write that
changes the group (one XOR out for the row's old content, recomputed, one in for the new). A write locks
its own row first and its group's row second, always in that order, so writers never deadlock.
"""
from __future__ import annotations

import zlib

from storage._seal import ZERO, Sealer, xor

SLOTS = 64


def slot_of(kind: str, key: str) -> int:
    """The group of a sealed row: `kind` is "case", "seq" or "put:<table>"."""
    return zlib.crc32(f"{kind}\x00{key}".encode()) % SLOTS


def initial_rows(sealer: Sealer) -> list[tuple[int, str, str]]:
    """Every group's row of an empty database."""
    return [(n, ZERO, sealer.slot(n, ZERO)) for n in range(SLOTS)]


def lock(conn, n: int):
    """Lock group `n`'s row (after the row the write changes); returns the cursor, fetched when needed
    (in a pipeline the lock travels with the row's own lock in one round trip)."""
    return conn.execute("SELECT digest FROM seal_slots WHERE slot = %s FOR UPDATE", (n,))


def store(conn, sealer: Sealer, n: int, locked, delta: str) -> None:
    """XOR `delta` into group `n` (locked with `lock`, its cursor `locked`) and seal it again."""
    for row in rows(sealer, {n: locked}, {n: delta}):
        conn.execute("INSERT INTO seal_slots (slot, digest, seal) VALUES (%s, %s, %s) ON CONFLICT (slot) DO UPDATE "
                     "SET digest = EXCLUDED.digest, seal = EXCLUDED.seal", row)


def rows(sealer: Sealer, locked: dict, deltas: dict[int, str]) -> list[list]:
    """[slot, digest, seal] of each locked group (its cursor from `lock`) that `deltas` changes, in group
    order: what one statement writes (`commit`'s `INSERT … FROM json_array_elements`)."""
    out = []
    for n in sorted(locked):
        delta = deltas.get(n, ZERO)
        if delta != ZERO:
            row = locked[n].fetchone()
            digest = xor(row[0] if row else ZERO, delta)
            out.append([n, digest, sealer.slot(n, digest)])
    return out


def apply_deltas(conn, sealer: Sealer, deltas: dict[int, str]) -> None:
    """XOR each group's delta into its digest and seal it again (inside the caller's transaction), in
    group order."""
    for n in sorted(deltas):
        store(conn, sealer, n, lock(conn, n), deltas[n])


def add(deltas: dict[int, str], slot: int, seal: str) -> None:
    deltas[slot] = xor(deltas.get(slot, ZERO), seal)
