"""The seed axis: which architectures train with which seeds, each (architecture, seed) a namespace.

``training_run.seeds`` (conf) lists the seeds; ``training_run.seed_architectures`` the
architectures they apply to (``null``: every architecture the training pipeline trains and the
reporting pipeline compares). The **first** seed trains the architecture's own namespace
(``resnet9_fast``: its model, history and every per-architecture report, as a one-seed run); each
further seed ``s`` its own namespace ``<architecture>.seed_<s>`` with its own model, history,
training summary, test predictions and metrics, from the same template. ``seeds: null`` (the
base default) is one run per architecture with the recipe's own seed (``train.seed``, else
``device.seed``), so the default run's cost does not change.

Kedro builds pipelines before it reads conf; the project's ``SeedAxisHooks`` reads these
parameters once the run's context exists (after ``--env`` and ``--params`` are merged), before
the pipelines are first built, and :func:`configure` sets the axis they are built with.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

SEEDS_PARAMETER = "training_run.seeds"
ARCHITECTURES_PARAMETER = "training_run.seed_architectures"
_RUN_NAMESPACE = re.compile(r"^(?P<architecture>.+)\.seed_(?P<seed>\d+)$")
# NumPy's and TensorFlow's generators take seeds in [0, 2**32).
_MAX_SEED = 2**32 - 1


class SeedAxisError(ValueError):
    """A bad ``training_run.seeds`` / ``training_run.seed_architectures`` parameter."""


@dataclass(frozen=True)
class SeedAxis:
    """``seeds`` (empty: the recipes' own seeds, one run each) for ``architectures`` (None: all)."""

    seeds: tuple[int, ...] = ()
    architectures: tuple[str, ...] | None = None

    def applies_to(self, architecture: str) -> bool:
        return bool(self.seeds) and (
            self.architectures is None or architecture in self.architectures
        )

    def primary_seed(self, architecture: str) -> int | None:
        """The seed of ``architecture``'s own namespace (None: the recipe's own seed)."""
        return self.seeds[0] if self.applies_to(architecture) else None

    def extra_runs(self, architecture: str) -> tuple[tuple[str, int], ...]:
        """``(namespace, seed)`` of every further seed of ``architecture``."""
        if not self.applies_to(architecture):
            return ()
        return tuple((run_namespace(architecture, seed), seed) for seed in self.seeds[1:])

    def all_extra_runs(self, architectures: Iterable[str]) -> list[tuple[str, str, int]]:
        """``(architecture, namespace, seed)`` of the further seeds of every one of them."""
        return [(a, ns, seed) for a in architectures for ns, seed in self.extra_runs(a)]


def run_namespace(architecture: str, seed: int) -> str:
    """The namespace of ``architecture`` trained with a further ``seed``."""
    return f"{architecture}.seed_{seed}"


def architecture_of(namespace: str) -> str:
    """The architecture a namespace trains (``resnet9_fast.seed_1`` → ``resnet9_fast``)."""
    match = _RUN_NAMESPACE.match(namespace)
    return match["architecture"] if match else namespace


def parse_seed_axis(
    training_run: Mapping[str, Any] | None, known: Iterable[str] | None = None
) -> SeedAxis:
    """The axis from the ``training_run`` parameters, or a :class:`SeedAxisError` naming them.

    ``known`` are the architectures the axis may name (the registry's seedable ones).
    """
    training_run = training_run or {}
    if not isinstance(training_run, Mapping):
        raise SeedAxisError(f"parameter 'training_run' must be a mapping, got {training_run!r}")
    seeds = training_run.get("seeds")
    names = training_run.get("seed_architectures")
    if seeds is None:
        return SeedAxis()
    if isinstance(seeds, str | bytes) or not isinstance(seeds, Iterable):
        raise SeedAxisError(
            f"parameter '{SEEDS_PARAMETER}' must be a list of integer seeds or null, got {seeds!r}"
        )
    seeds = list(seeds)
    if not seeds:
        raise SeedAxisError(
            f"parameter '{SEEDS_PARAMETER}' is an empty list: give at least one seed, "
            "or null for each recipe's own seed"
        )
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= _MAX_SEED:
            raise SeedAxisError(
                f"parameter '{SEEDS_PARAMETER}': {seed!r} is not an integer seed in "
                f"[0, {_MAX_SEED}]"
            )
    duplicates = sorted({seed for seed in seeds if seeds.count(seed) > 1})
    if duplicates:
        raise SeedAxisError(
            f"parameter '{SEEDS_PARAMETER}' repeats seed(s) {duplicates}: each seed is one "
            "namespace, list it once"
        )
    architectures = None
    if names is not None:
        if isinstance(names, str | bytes) or not isinstance(names, Iterable) or not list(names):
            raise SeedAxisError(
                f"parameter '{ARCHITECTURES_PARAMETER}' must be a non-empty list of "
                f"architecture namespaces or null (all), got {names!r}"
            )
        architectures = tuple(str(name) for name in names)
        unknown = [a for a in architectures if known is not None and a not in set(known)]
        if unknown:
            raise SeedAxisError(
                f"parameter '{ARCHITECTURES_PARAMETER}': {unknown} are not architectures the "
                f"training pipeline trains and reports compare; choose from {sorted(known)}"
            )
    return SeedAxis(tuple(seeds), architectures)


# The axis the project's pipelines are built with (set by SeedAxisHooks from the run's conf).
_current = SeedAxis()
_built_with: SeedAxis | None = None


def configure(axis: SeedAxis) -> bool:
    """Set the axis; True when pipelines were already built with another one (rebuild them)."""
    global _current
    _current = axis
    return _built_with is not None and _built_with != axis


def current() -> SeedAxis:
    """The axis to build pipelines with (and remember that they were built with it)."""
    global _built_with
    _built_with = _current
    return _current
