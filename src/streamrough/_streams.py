"""What every stream class shares: one lock per stream, pickling, independent copies.

The stream kernels release the GIL, so two threads pushing into one stream would race on
its buffers (and crash the process when one of them reallocates). Every public method of a
stream therefore runs under the stream's own lock (:func:`locked`): concurrent pushes are
serialised, in some order, and reads see a consistent state.

A stream holds compiled kernels and a lock, which cannot be pickled: ``__getstate__`` drops
the attributes named in ``_TRANSIENT`` and ``__setstate__`` rebinds them with ``_bind()``.
``copy.copy`` gives a deep copy (a stream's buffers are its state: a shallow copy would
share them, and pushing into it would change the original).
"""

from __future__ import annotations

import copy
import functools
import threading

__all__ = ["Stream", "locked"]


def locked(method):
    """Run `method` under the stream's lock (reentrant: methods may call each other)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


class Stream:
    """Base of the stream classes: a reentrant lock, pickling and copies (see the module doc)."""

    #: attributes rebuilt by ``_bind`` after unpickling (kernels, bound argument tuples)
    _TRANSIENT: tuple = ()

    def _bind(self) -> None:
        """Recreate the `_TRANSIENT` attributes from the picklable state."""

    def __getstate__(self):
        with self._lock:
            state = dict(self.__dict__)
        for name in self._TRANSIENT + ("_lock",):
            state.pop(name, None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.RLock()
        self._bind()

    def __copy__(self):
        return copy.deepcopy(self)
