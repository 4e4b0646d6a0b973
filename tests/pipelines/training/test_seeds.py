"""The seed axis through the pipelines Kedro builds: each (architecture, seed) a namespace."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cifar100_kedro import seed_axis
from cifar100_kedro.seed_axis import SeedAxis, SeedAxisError, parse_seed_axis
from tests.conftest import copy_project, run_session

KNOWN = ["chavez_m1", "chavez_m2"]


def test_no_seeds_is_one_run_per_architecture_with_the_recipes_seed():
    axis = parse_seed_axis({"seeds": None})
    assert axis == SeedAxis() and axis.primary_seed("chavez_m1") is None
    assert axis.extra_runs("chavez_m1") == ()


def test_the_first_seed_is_the_architectures_own_namespace_the_others_their_own():
    axis = parse_seed_axis({"seeds": [3, 1, 2], "seed_architectures": ["chavez_m1"]}, KNOWN)
    assert axis.primary_seed("chavez_m1") == 3
    assert axis.extra_runs("chavez_m1") == (("chavez_m1.seed_1", 1), ("chavez_m1.seed_2", 2))
    assert axis.primary_seed("chavez_m2") is None and axis.extra_runs("chavez_m2") == ()
    assert seed_axis.architecture_of("chavez_m1.seed_2") == "chavez_m1"
    assert seed_axis.architecture_of("chavez_m1") == "chavez_m1"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"seeds": []}, r"'training_run.seeds' is an empty list"),
        ({"seeds": [0, 1, 1]}, r"'training_run.seeds' repeats seed\(s\) \[1\]"),
        ({"seeds": [0, 1.5]}, r"'training_run.seeds': 1.5 is not an integer seed"),
        ({"seeds": [0, True]}, r"'training_run.seeds': True is not an integer seed"),
        ({"seeds": [-1]}, r"'training_run.seeds': -1 is not an integer seed"),
        ({"seeds": "0,1"}, r"'training_run.seeds' must be a list of integer seeds"),
        ({"seeds": [0], "seed_architectures": ["nope"]}, r"seed_architectures.*'nope'"),
        ({"seeds": [0], "seed_architectures": []}, r"seed_architectures' must be a non-empty"),
    ],
)
def test_bad_seed_settings_name_the_parameter(settings, message):
    with pytest.raises(SeedAxisError, match=message):
        parse_seed_axis(settings, KNOWN)


def _weights(project, namespace):
    import keras

    model = keras.models.load_model(
        project / f"data/06_models/{namespace}/model.keras", compile=False
    )
    return model.get_weights()


def _same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def _seeds(*seeds):
    # As `kedro run --params "training_run.seeds=[...]"` gives them (nested); deterministic
    # ops, so one seed gives one model.
    return {
        "training_run": {"seeds": list(seeds), "seed_architectures": ["chavez_m1"]},
        "device": {"deterministic": True},
    }


@pytest.mark.slow
def test_seeds_give_their_own_models_and_one_seed_the_same_model_twice(tmp_path):
    project = copy_project(tmp_path / "project")
    run_session(project, ["data_processing"])
    run_session(project, ["training"], namespaces=["chavez_m1"], runtime_params=_seeds(0, 1))
    first = {ns: _weights(project, ns) for ns in ("chavez_m1", "chavez_m1.seed_1")}
    summary = json.loads(
        (project / "data/07_model_output/chavez_m1.seed_1/training_summary.json").read_text()
    )
    assert summary["seed"] == 1 and summary["namespace"] == "chavez_m1.seed_1"
    assert summary["architecture"] == "chavez_m1"
    assert not _same(first["chavez_m1"], first["chavez_m1.seed_1"])

    # The same seeds the other way round, in the same process (pipelines rebuilt for the new
    # axis): seed 0 now trains `chavez_m1.seed_0`, seed 1 the architecture's own namespace.
    run_session(project, ["training"], namespaces=["chavez_m1"], runtime_params=_seeds(1, 0))
    assert _same(_weights(project, "chavez_m1.seed_0"), first["chavez_m1"])
    assert _same(_weights(project, "chavez_m1"), first["chavez_m1.seed_1"])


def test_a_bad_seed_list_stops_the_run_before_anything_trains(tmp_path):
    project = copy_project(tmp_path / "project")
    with pytest.raises(SeedAxisError, match=r"'training_run.seeds' repeats seed\(s\) \[2\]"):
        run_session(project, ["data_processing"], runtime_params=_seeds(2, 2))
    assert not any((project / "data").rglob("*.npz"))
