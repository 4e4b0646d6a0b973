"""Kedro runners on existing distributed engines (``kedro run --runner=...DaskRunner``)."""

from cifar100_kedro.runners.dask_runner import DaskRunner

__all__ = ["DaskRunner"]
