"""From a tensor and its blocked axes to the kernels' 3-D working view and back.

The kernels see ``x[P, R, C]`` with blocks of ``b_row x b_col``. The blocked axes
are moved last — ``np.moveaxis(x, (axes[1], axes[0]), (-2, -1))`` for a 2-D block,
``np.moveaxis(x, axes[0], -1)`` for a 1-D block — which is free (no copy) when they
already are last, the common case. That moved layout is also the layout of
``MXArray.elements``; ``MXArray.scales`` has the blocked axes divided (rounding up)
by the block.

A tensor of lower rank than its block has the missing leading axis treated as
extent 1 and the axes refer to that padded shape (a bias vector under a (16,2)
block gets blocks of 16); a 0-d tensor is treated as shape (1,).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np

from mx_formats.formats import BlockFormat, Format


@dataclass(frozen=True)
class Layout:
    """Where the blocked axes of an ``ndim``-d tensor are and how the kernels see it."""

    original: tuple[int, ...]  # the caller's shape
    shape: tuple[int, ...]  # the same with any missing leading axes as extent 1
    axes: tuple[int, ...]  # non-negative blocked axes, axes[0] carries block[0]
    moved_shape: tuple[int, ...]  # shape with the blocked axes last
    b_row: int
    b_col: int

    @property
    def needs_move(self) -> bool:
        n = len(self.shape)
        return self.axes not in ((), (n - 1,), (n - 1, n - 2))

    @property
    def view_shape(self) -> tuple[int, int, int]:
        """(P, R, C) of the working view."""
        s = self.moved_shape
        if len(self.axes) <= 1:  # scalar formats too: rows are the unit of parallel work
            if not s:
                return (1, 1, 1)
            return (1, int(np.prod(s[:-1], dtype=np.int64)), s[-1])
        return (int(np.prod(s[:-2], dtype=np.int64)), s[-2], s[-1])

    @property
    def scales_shape(self) -> tuple[int, ...]:
        s = self.moved_shape
        if not self.axes:
            return (0,)
        if len(self.axes) == 1:
            return (*s[:-1], -(-s[-1] // self.b_col))
        return (*s[:-2], -(-s[-2] // self.b_row), -(-s[-1] // self.b_col))

    def to_view(self, x: np.ndarray) -> np.ndarray:
        """The 3-D working view of ``x`` (a copy only when the axes must move)."""
        x = x.reshape(self.shape)
        if self.needs_move:
            x = np.moveaxis(x, self._moved_from, self._moved_to)
        return np.ascontiguousarray(x).reshape(self.view_shape)

    def from_view(self, v: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`to_view` for an element-shaped working array."""
        v = v.reshape(self.moved_shape)
        if self.needs_move:
            v = np.ascontiguousarray(np.moveaxis(v, self._moved_to, self._moved_from))
        return v.reshape(self.original)

    @property
    def _moved_from(self):
        return tuple(reversed(self.axes))

    @property
    def _moved_to(self):
        return tuple(range(-len(self.axes), 0))


def make_layout(fmt: Format, shape: tuple[int, ...], axes=None) -> Layout:
    """Check ``axes`` against ``fmt`` and ``shape`` and build the layout."""
    shape = tuple(shape)
    if not isinstance(fmt, BlockFormat):
        if axes not in (None, ()):
            raise ValueError(f"{fmt} is a scalar format: it takes no blocked axes, got axes={axes!r}")
        return Layout(shape, shape, (), shape, 1, 1)
    nblock = len(fmt.block)
    work_shape = shape if shape else (1,)
    ndim = len(work_shape)
    if axes is None:
        axes = (-1,) if nblock == 1 else (-1, -2)
    elif isinstance(axes, (int, np.integer)) and not isinstance(axes, bool):
        axes = (int(axes),)
    try:
        axes = tuple(operator.index(a) for a in axes)
    except TypeError:
        raise TypeError(f"axes must be an int or a tuple of ints, got {axes!r}") from None
    if len(axes) != nblock:
        raise ValueError(f"{fmt} has a {nblock}-D block, so it needs {nblock} blocked axes; got axes={axes}")
    block = fmt.block
    if ndim < nblock:
        # Missing leading axis: extent 1; axes refer to the padded shape.
        work_shape = (1,) * (nblock - ndim) + work_shape
        ndim = nblock
    norm = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of range for a tensor of shape {shape} ({ndim} dims)")
        norm.append(a % ndim)
    if len(set(norm)) != len(norm):
        raise ValueError(f"blocked axes must differ, got axes={axes} for a tensor of shape {shape}")
    moved = [d for i, d in enumerate(work_shape) if i not in norm] + [work_shape[a] for a in reversed(norm)]
    b_col = block[0]
    b_row = block[1] if nblock == 2 else 1
    return Layout(shape, work_shape, tuple(norm), tuple(moved), b_row, b_col)
