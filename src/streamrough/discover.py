"""Which weight paths a model holds: group parameter names into paths by their layer index.

A residual network stores one parameter role per block: ``h.0.attn.c_proj.weight``,
``h.1.attn.c_proj.weight``, ...  The weight path of that role is the sequence over the block
index ``k`` of those tensors; its role is written with ``{k}`` in place of the index
(``h.{k}.attn.c_proj.weight``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

import numpy as np

__all__ = ["PathSpec", "PathPlan", "find_paths"]

INDEX = "{k}"


@dataclasses.dataclass(frozen=True)
class PathSpec:
    """One weight path: the parameters of one role, in layer order.

    Attributes
    ----------
    role : str
        The parameter name with ``{k}`` for the layer index.
    names : tuple of str
        Parameter names, ordered by their index.
    indices : tuple of int
        The layer index of each name (ascending; gaps are kept as found).
    layer_shape : tuple of int
    dtype : str or None
        Element type when the source told it.
    """

    role: str
    names: tuple
    indices: tuple
    layer_shape: tuple
    dtype: str | None = None

    @property
    def n_layers(self) -> int:
        """Number of layers of the path."""
        return len(self.names)


@dataclasses.dataclass(frozen=True)
class PathPlan:
    """The paths found in a model, and the parameters left out with the reason.

    Attributes
    ----------
    paths : tuple of PathSpec
        In order of first appearance of the role.
    left_out : dict
        Parameter name -> why it is in no path.
    """

    paths: tuple
    left_out: dict

    @property
    def roles(self):
        """The roles of the paths, in order."""
        return [p.role for p in self.paths]

    def __len__(self):
        return len(self.paths)

    def __iter__(self):
        return iter(self.paths)

    def __getitem__(self, role) -> PathSpec:
        for p in self.paths:
            if p.role == role:
                return p
        raise KeyError(f"no path with role {role!r}; roles: {self.roles}")

    def summary(self) -> str:
        """A readable table of the paths and a count of what was left out, by reason."""
        lines = [f"{len(self.paths)} weight paths"]
        for p in self.paths:
            lines.append(f"  {p.role}: {p.n_layers} layers of shape {p.layer_shape}" + (f" {p.dtype}" if p.dtype else ""))
        reasons = {}
        for name, why in self.left_out.items():
            reasons.setdefault(why, []).append(name)
        if reasons:
            lines.append(f"{len(self.left_out)} parameters left out")
            for why, names in reasons.items():
                shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
                lines.append(f"  {len(names)} x {why}: {shown}")
        return "\n".join(lines)


def _entries(items):
    """[(name, shape, dtype-or-None)] from a mapping or an iterable of tuples."""
    if isinstance(items, Mapping):
        items = items.items()
    out = []
    for item in items:
        if len(item) == 2:
            name, value = item
            if hasattr(value, "shape"):  # an array or a tensor
                shape, dtype = tuple(value.shape), str(value.dtype).removeprefix("torch.")
            else:
                shape, dtype = tuple(value), None
        elif len(item) == 3:
            name, shape, dtype = item
            dtype = None if dtype is None else str(dtype).removeprefix("torch.")
        else:
            raise ValueError(f"names_and_shapes entries must be (name, shape) or (name, shape, dtype), got {item!r}")
        out.append((str(name), tuple(int(s) for s in shape), dtype))
    return out


def _is_float(dtype):
    if dtype is None:
        return True
    if dtype in ("bfloat16", "BF16"):
        return True
    try:
        return np.issubdtype(np.dtype(dtype.lower() if dtype.isupper() else dtype), np.floating)
    except TypeError:
        return False


def _leftmost_index_role(name):
    parts = name.split(".")
    for i, part in enumerate(parts):
        if part.isdigit():
            return ".".join(parts[:i] + [INDEX] + parts[i + 1 :]), int(part)
    return None, None


def _regex_role(pattern):
    def role_of(name):
        m = pattern.search(name)
        if m is None:
            return None, None
        if not m.group(1).isdigit():
            raise ValueError(f"layers regex group 1 must match a layer number; it matched {m.group(1)!r} in {name!r}")
        return name[: m.start(1)] + INDEX + name[m.end(1) :], int(m.group(1))

    return role_of


def _group(entries, role_of, no_match_reason):
    groups, left_out = {}, {}
    for name, shape, dtype in entries:
        role, index = role_of(name)
        if role is None:
            left_out[name] = no_match_reason
        else:
            groups.setdefault(role, []).append((index, name, shape, dtype))
    paths = []
    for role, members in groups.items():
        by_shape = {}
        for m in members:
            by_shape.setdefault(m[2], []).append(m)
        # the most common shape makes the path (ties: the one met first)
        shape = max(by_shape, key=lambda s: len(by_shape[s]))
        chosen = sorted(by_shape[shape])
        for other, ms in by_shape.items():
            for m in ms if other != shape else []:
                left_out[m[1]] = f"shape {other} differs from the {len(chosen)} layers of {role} (shape {shape})"
        if len(chosen) < 2:
            for m in chosen:
                left_out[m[1]] = "the only layer of its role (a path needs at least 2 layers)"
            continue
        dtypes = {m[3] for m in chosen}
        paths.append(
            PathSpec(
                role=role,
                names=tuple(m[1] for m in chosen),
                indices=tuple(m[0] for m in chosen),
                layer_shape=shape,
                dtype=dtypes.pop() if len(dtypes) == 1 else None,
            )
        )
    return paths, left_out


def find_paths(names_and_shapes, layers=None) -> PathPlan:
    """Group a model's parameters into weight paths.

    Names that differ only in one integer component (``blocks.3.W`` vs ``blocks.4.W``) and
    have the same shape form a path ordered by that integer; with several integer components
    the leftmost is the layer index (``layers.3.experts.1.w`` is layer 3 of the path
    ``layers.{k}.experts.1.w``).  Non-floating parameters, names without an index, roles with
    one layer only and layers whose shape differs from their role's most common shape are
    left out, each with its reason in :attr:`PathPlan.left_out`.

    Parameters
    ----------
    names_and_shapes : mapping or iterable, or a model source
        ``{name: shape}``, ``{name: array_or_tensor}`` (a ``state_dict``), ``[(name, shape)]``
        or ``[(name, shape, dtype)]``; or anything :func:`streamrough.ingest` reads (a file,
        folder, ``nn.Module``), whose tensors are listed without being loaded.
    layers : None, str or list of str
        None: automatic grouping.  ``"re:REGEX"``: names matching REGEX (``re.search``) whose
        first group is the layer number, e.g. ``r"re:blocks\\.(\\d+)\\.W$"``.  A list of
        names: exactly one path, those layers in that order.

    Returns
    -------
    PathPlan

    Examples
    --------
    >>> plan = find_paths({"h.0.w": (4, 4), "h.1.w": (4, 4), "h.2.w": (4, 4), "emb": (10, 4)})
    >>> [(p.role, p.n_layers, p.layer_shape) for p in plan]
    [('h.{k}.w', 3, (4, 4))]
    >>> plan.left_out
    {'emb': 'no integer layer index in the name'}
    """
    if not isinstance(names_and_shapes, (Mapping, list, tuple)):
        from .sources import open_source

        names_and_shapes = open_source(names_and_shapes).entries()
    entries = _entries(names_and_shapes)
    left_out = {}
    floats = []
    for name, shape, dtype in entries:
        if not _is_float(dtype):
            left_out[name] = f"dtype {dtype} is not floating point"
        elif not shape or int(np.prod(shape)) == 0:
            left_out[name] = f"shape {shape} has no entries per layer"
        else:
            floats.append((name, shape, dtype))
    if layers is None:
        paths, more = _group(floats, _leftmost_index_role, "no integer layer index in the name")
    elif isinstance(layers, str):
        if not layers.startswith("re:"):
            raise ValueError(f"layers must be None, 're:REGEX' or a list of names, got {layers!r}")
        try:
            pattern = re.compile(layers[3:])
        except re.error as exc:
            raise ValueError(f"layers regex {layers[3:]!r} does not compile: {exc}") from None
        if pattern.groups < 1:
            raise ValueError(f"layers regex {layers[3:]!r} needs a group capturing the layer number, e.g. (\\d+)")
        paths, more = _group(floats, _regex_role(pattern), "does not match the layers regex")
    else:
        paths, more = _explicit(floats, list(layers), entries)
    left_out.update(more)
    return PathPlan(paths=tuple(paths), left_out=left_out)


def _explicit(floats, names, entries):
    known = {name: (shape, dtype) for name, shape, dtype in floats}
    missing = [n for n in names if n not in known]
    if missing:
        every = {e[0] for e in entries}
        why = ["not a parameter" if n not in every else "not floating point or empty" for n in missing]
        raise ValueError("layers lists names that cannot be a path: " + ", ".join(f"{n!r} ({w})" for n, w in zip(missing, why)))
    if len(names) < 2 or len(set(names)) != len(names):
        raise ValueError("layers must list at least 2 distinct names")
    shapes = {known[n][0] for n in names}
    if len(shapes) != 1:
        raise ValueError(f"layers must share one shape, got {sorted(shapes)}")
    roles = {_leftmost_index_role(n)[0] for n in names}
    role = roles.pop() if len(roles) == 1 and None not in roles else "layers"
    dtypes = {known[n][1] for n in names}
    spec = PathSpec(
        role=role,
        names=tuple(names),
        indices=tuple(range(len(names))),
        layer_shape=shapes.pop(),
        dtype=dtypes.pop() if len(dtypes) == 1 else None,
    )
    chosen = set(names)
    return [spec], {n: "not in the explicit layers list" for n, _, _ in floats if n not in chosen}
