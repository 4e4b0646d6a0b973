"""Fixtures for the reporting tests (helpers live in fakes.py)."""

from __future__ import annotations

import pytest

from tests.pipelines.reporting.fakes import REPORTING, make_label_names, make_test_split


@pytest.fixture
def label_names() -> dict:
    return make_label_names()


@pytest.fixture
def split(label_names) -> dict:
    return make_test_split(label_names)


@pytest.fixture
def reporting() -> dict:
    return dict(REPORTING)
