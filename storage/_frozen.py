"""Read-only JSON documents that the Store hands out without copying: its inbox rows.

Copying a row costs about 2 µs; a user's whole 待办 at 300,000 cases is 25,000 rows, so copies were
four fifths of its time. The Store keeps those rows frozen instead and gives out the rows themselves:
they compare, encode and unpack (`{**row}`, `list(row["actions"])`) like the dicts and lists they
are; anything that would change one raises TypeError, so nobody changes the Store's memory by
accident; `copy`, `deepcopy` and pickling give plain (changeable) dicts and lists.
"""
from __future__ import annotations


def _refuse(self, *args, **kwargs):
    raise TypeError("the Store's rows are read-only: change a copy (copy.deepcopy(row))")


def _thaw(value):
    return value.thaw() if isinstance(value, _Frozen) else value


class _Frozen:
    """What a frozen dict and a frozen list share: their plain type and how they become it."""

    __slots__ = ()
    _plain: type = object

    def thaw(self):
        raise NotImplementedError

    def __copy__(self):
        return self._plain(self)

    def __deepcopy__(self, memo):
        return self.thaw()

    def __reduce__(self):
        return self._plain, (self.thaw(),)


class FrozenDict(_Frozen, dict):
    __slots__ = ()
    _plain = dict
    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def thaw(self) -> dict:
        return {k: _thaw(v) for k, v in self.items()}


class FrozenList(_Frozen, list):
    __slots__ = ()
    _plain = list
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = clear = extend = insert = pop = remove = reverse = sort = _refuse

    def thaw(self) -> list:
        return [_thaw(v) for v in self]


def freeze(value):
    """A read-only copy of JSON data (dicts and lists all the way down)."""
    t = type(value)
    if t is dict:
        return FrozenDict({k: freeze(v) for k, v in value.items()})
    if t is list:
        return FrozenList(freeze(v) for v in value)
    return value


def changeable_copy(value):
    """A plain (changeable) deep copy of JSON data, frozen or not."""
    if isinstance(value, _Frozen):
        return value.thaw()
    t = type(value)
    if t is dict:
        return {k: changeable_copy(v) for k, v in value.items()}
    if t is list:
        return [changeable_copy(v) for v in value]
    return value
