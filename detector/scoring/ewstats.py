"""Running statistics with explicit state: EW mean, EW variance and the P² quantile.

river 0.26's ``stats.EWMean``, ``stats.EWVar`` and ``stats.Quantile`` wrap Rust objects whose
only state is an opaque bincode blob, which a checkpoint can neither document nor validate.
These classes follow river's recurrences step for step (same operations in the same order,
so the same floats) and keep their state in plain fields; ``tests/test_state.py`` feeds the
same streams to river's classes and to these and checks that they agree.

>>> m, v = EWMean(0.5), EWVar(0.5)
>>> for x in [1, 3, 5, 4]:
...     m.update(x)
...     v.update(x)
>>> m.get(), v.get()
(3.75, 1.4375)
>>> q = Quantile(0.5)
>>> for x in [9, 7, 3, 2, 6, 1, 8, 5, 4]:
...     q.update(x)
>>> q.get()
5.0

Their state is a few floats: a checkpoint stores the EW means as numbers (see
``LogZBaseline.to_state``) and the quantile as a ``QuantileState``. The parameters (fading
factor, quantile) are not part of that state: they come from the model definition when a
checkpoint is loaded. The types carry the checks that need no context (finite floats, array
lengths), so a decoder rejects a bad value with its path.
"""

from __future__ import annotations

import sys
from itertools import pairwise
from typing import Annotated

import msgspec

Finite = Annotated[float, msgspec.Meta(ge=-sys.float_info.max, le=sys.float_info.max)]
"""A float that is neither infinite nor NaN (NaN fails every comparison)."""
FiveFloats = Annotated[list[Finite], msgspec.Meta(min_length=5, max_length=5)]
_NETWORK = ((0, 1), (3, 4), (0, 2), (1, 2), (0, 3), (2, 3), (1, 4), (1, 2), (3, 4))


class EWMean:
    """Exponentially weighted mean; the first value is the mean (river ``stats.EWMean``)."""

    __slots__ = ("fading_factor", "initialized", "mean", "one_minus_alpha")

    def __init__(
        self, fading_factor: float = 0.5, mean: float = 0.0, initialized: bool = False
    ) -> None:
        if not 0 <= fading_factor <= 1:
            raise ValueError("fading_factor must be in [0, 1]")
        self.fading_factor = fading_factor
        self.one_minus_alpha = 1.0 - fading_factor
        self.mean = mean
        self.initialized = initialized

    def update(self, x: float) -> None:
        if self.initialized:
            self.mean = self.fading_factor * x + self.one_minus_alpha * self.mean
        else:
            self.mean = float(x)
            self.initialized = True

    def get(self) -> float:
        return self.mean


class EWVar:
    """Exponentially weighted variance as river computes it: EW mean of x² minus the square
    of the EW mean of x (river ``stats.EWVar``)."""

    __slots__ = ("fading_factor", "mean", "sq_mean")

    def __init__(
        self, fading_factor: float = 0.5, mean: EWMean | None = None, sq_mean: EWMean | None = None
    ) -> None:
        self.fading_factor = fading_factor
        self.mean = EWMean(fading_factor) if mean is None else mean
        self.sq_mean = EWMean(fading_factor) if sq_mean is None else sq_mean

    def update(self, x: float) -> None:
        self.mean.update(x)
        self.sq_mean.update(x * x)

    def get(self) -> float:
        m = self.mean.get()
        return self.sq_mean.get() - m * m


class Quantile:
    """Running quantile by the P² algorithm (Jain & Chlamtac), as river ``stats.Quantile``.

    Five markers: ``heights`` are their values, ``positions`` their actual ranks and
    ``desired`` the ranks they should have, which grow by ``increments`` per value. The first
    five values are kept as they come; the sixth update sorts them and starts the markers.
    ``get`` is the middle marker (None before any value, like river).
    """

    __slots__ = ("desired", "heights", "increments", "n_heights", "positions", "q", "sorted")

    def __init__(self, q: float = 0.5) -> None:
        if not 0 < q < 1:
            raise ValueError("q must be in (0, 1)")
        self.q = q
        self.increments = [0.0, q / 2.0, q, (1.0 + q) / 2.0, 1.0]
        self.desired = [1.0, 1.0 + 2.0 * q, 1.0 + 4.0 * q, 3.0 + 2.0 * q, 5.0]
        self.positions = [1.0, 2.0, 3.0, 4.0, 5.0]
        self.heights = [0.0] * 5
        self.n_heights = 0
        self.sorted = False

    def update(self, x: float) -> None:
        x = float(x)
        if self.n_heights < 5:
            self.heights[self.n_heights] = x
            self.n_heights += 1
            return
        if not self.sorted:
            h = self.heights
            for a, b in _NETWORK:  # river's sorting network (where 0.0 and -0.0 go matters)
                if h[b] < h[a]:
                    h[a], h[b] = h[b], h[a]
            self.sorted = True
        k = self._cell(x)
        for i in range(k, 5):
            self.positions[i] += 1.0
        for i in range(5):
            self.desired[i] += self.increments[i]
        self._adjust()

    def get(self) -> float | None:
        if self.sorted:
            return self.heights[2]
        n = self.n_heights
        if n == 0:
            return None
        head = sorted(self.heights[:n])
        return head[int(min(max(n - 1.0, 0.0), n * self.q))]

    def _cell(self, x: float) -> int:
        """The first marker whose position grows; stretches the extremes to ``x``."""
        h = self.heights
        if x < h[0]:
            h[0] = x
            return 1
        for i in range(1, 5):
            if h[i - 1] <= x < h[i]:
                return i
        if h[4] < x:
            h[4] = x
        return 4

    def _adjust(self) -> None:
        h, n_ = self.heights, self.positions
        for i in range(1, 4):
            n = n_[i]
            q = h[i]
            d = self.desired[i] - n
            if (d >= 1.0 and n_[i + 1] - n > 1.0) or (d <= -1.0 and n_[i - 1] - n < -1.0):
                d = 1.0 if d > 0 else -1.0
                qp1, qm1, np1, nm1 = h[i + 1], h[i - 1], n_[i + 1], n_[i - 1]
                outer = d / (np1 - nm1)
                inner_left = (n - nm1 + d) * (qp1 - q) / (np1 - n)
                inner_right = (np1 - n - d) * (q - qm1) / (n - nm1)
                qn = q + outer * (inner_left + inner_right)
                if qm1 < qn < qp1:
                    h[i] = qn
                else:
                    j = i + int(d)
                    h[i] = q + d * (h[j] - q) / (n_[j] - n)
                n_[i] = n + d

    def to_state(self) -> QuantileState:
        return QuantileState(
            list(self.heights),
            list(self.positions),
            list(self.desired),
            self.n_heights,
            self.sorted,
        )

    @classmethod
    def from_state(cls, state: QuantileState, q: float) -> Quantile:
        if state.sorted and state.n_heights != 5:
            raise ValueError("sorted: true but n_heights is not 5")
        p = state.positions
        if p[0] < 1 or any(a >= b for a, b in pairwise(p)):
            raise ValueError("positions: not strictly ascending ranks from 1")
        quantile = cls(q)
        quantile.heights = list(state.heights)
        quantile.positions = list(state.positions)
        quantile.desired = list(state.desired)
        quantile.n_heights = state.n_heights
        quantile.sorted = state.sorted
        return quantile


class QuantileState(msgspec.Struct, forbid_unknown_fields=True):
    heights: FiveFloats
    """The markers' values (the first values as they came, until ``sorted``)."""
    positions: FiveFloats
    """The markers' actual ranks among the values seen (1-based, strictly ascending)."""
    desired: FiveFloats
    """The ranks the markers should have."""
    n_heights: Annotated[int, msgspec.Meta(ge=0, le=5)]
    """How many of the first five values were collected."""
    sorted: bool
    """Whether the markers started (from the sixth value on)."""
