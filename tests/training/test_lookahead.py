"""Lookahead (training/lookahead.py, recipe key ``train.lookahead``): the update rule, resume
safety through the engine, and the recipe's checks."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from cifar100_kedro.training.device import runtime
from cifar100_kedro.training.engine import fit_model
from cifar100_kedro.training.lookahead import Lookahead
from cifar100_kedro.training.recipe import RecipeError, parse_recipe, validate_train_params
from tests.training._subprocess_checks import MODEL, RECIPE, _tiny_data
from tests.training.test_engine import _EpochCounter, _Interrupt


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    runtime({})  # the engine's defaults (an earlier deterministic run may have left its switch)
    keras.backend.clear_session()
    yield
    runtime({})
    keras.backend.clear_session()


def _numpy_lookahead(w, b, x, y, lr, batch, epochs, steps, alpha):
    """SGD on a linear layer with the mean squared error, with Lookahead synchronised every
    ``steps`` steps and at each epoch's end, in float64."""
    per_epoch = len(x) // batch
    for _ in range(epochs):
        slow = [w.copy(), b.copy()]
        for step in range(1, per_epoch + 1):
            xb, yb = x[(step - 1) * batch : step * batch], y[(step - 1) * batch : step * batch]
            grad = 2 * (xb @ w + b - yb) / yb.size
            w, b = w - lr * xb.T @ grad, b - lr * grad.sum(axis=0)
            if step % steps == 0 or step == per_epoch:
                slow = [s + alpha * (f - s) for s, f in zip(slow, (w, b), strict=True)]
                w, b = slow[0].copy(), slow[1].copy()
    return w, b


@pytest.mark.parametrize(
    ("steps_per_execution", "jit_compile"), [(1, False), (2, False), (1, True)]
)
def test_update_rule_matches_numpy(steps_per_execution, jit_compile):
    # 3 steps an epoch, k = 2: one synchronisation inside the epoch, one at its end; with two
    # steps per execution Keras calls the batch hook at steps 2 and 3 only, the same points.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 4)).astype("float32")
    y = rng.normal(size=(12, 2)).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss="mse",
        steps_per_execution=steps_per_execution,
        jit_compile=jit_compile,
    )
    w0, b0 = (v.astype(np.float64) for v in model.get_weights())
    model.fit(
        x, y, batch_size=4, epochs=2, shuffle=False, verbose=0,
        callbacks=[Lookahead(steps=2, alpha=0.5)],
    )  # fmt: skip
    expected = _numpy_lookahead(w0, b0, x, y, lr=0.1, batch=4, epochs=2, steps=2, alpha=0.5)
    for got, want in zip(model.get_weights(), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # Not vacuous: plain SGD ends elsewhere.
    plain = _numpy_lookahead(w0, b0, x, y, lr=0.1, batch=4, epochs=2, steps=1, alpha=1.0)
    assert not np.allclose(plain[0], expected[0], rtol=1e-3)


def _recipe(**changes) -> dict:
    recipe = json.loads(json.dumps(RECIPE))
    recipe.update(changes)
    return recipe


def test_interrupted_run_with_lookahead_resumes_to_the_uninterrupted_model(tmp_path):
    # 64 images, batch 16: 4 steps an epoch, k = 3, so each epoch ends between two regular
    # synchronisations (the epoch-end one is what makes the saved state complete).
    data, val = _tiny_data(), _tiny_data(seed=1)
    recipe = _recipe(
        epochs=3,
        lookahead={"steps": 3, "alpha": 0.5},
        callbacks={"backup_and_restore": True},
    )
    device = {"seed": 7, "deterministic": True}

    def fit(work_dir, extra, train_params=recipe):
        return fit_model(
            data, val, None, MODEL, train_params, architecture="arch", work_dir=work_dir,
            device_settings=device, extra_callbacks=extra,
        )  # fmt: skip

    reference, _, _ = fit(tmp_path / "uninterrupted", [])
    expected = [w.copy() for w in reference.get_weights()]
    with pytest.raises(KeyboardInterrupt):
        fit(tmp_path / "interrupted", [_Interrupt(after_epoch=2)])
    counter = _EpochCounter()
    resumed, _, summary = fit(tmp_path / "interrupted", [counter])
    assert counter.started == [3] and summary["resumed"]
    for got, want in zip(resumed.get_weights(), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    # Not vacuous: without Lookahead the same run ends elsewhere.
    plain, _, _ = fit(tmp_path / "plain", [], _recipe(epochs=3))
    assert any(not np.allclose(a, b) for a, b in zip(plain.get_weights(), expected, strict=True))


@pytest.mark.parametrize(
    ("lookahead", "message"),
    [
        ({"steps": 0}, r"'arch.train.lookahead.steps': must be a positive integer, got 0"),
        ({"steps": 2.5}, r"'arch.train.lookahead.steps'"),
        ({"alpha": 0}, r"'arch.train.lookahead.alpha': must be in \(0, 1\], got 0"),
        ({"alpha": 1.5}, r"'arch.train.lookahead.alpha': must be in \(0, 1\]"),
        ({"alpha": "half"}, r"'arch.train.lookahead.alpha'"),
        ({"k": 5}, r"'arch.train.lookahead.k': unknown key; known: steps, alpha"),
        (5, r"'arch.train.lookahead': must be null \(off\) or a mapping"),
    ],
)
def test_bad_lookahead_names_the_parameter(lookahead, message):
    with pytest.raises(RecipeError, match=message):
        validate_train_params(_recipe(lookahead=lookahead), "arch.train")


def test_lookahead_defaults_and_off_by_default():
    def parsed(**changes):
        return parse_recipe("arch", MODEL, _recipe(**changes))

    assert parsed().train.lookahead is None
    assert parsed(lookahead=None).fingerprint() == parsed().fingerprint()
    # `--params "arch.train.lookahead.steps=5"` on a null key gives a one-key mapping.
    assert parsed(lookahead={"steps": 5}).train.lookahead == {"steps": 5, "alpha": 0.5}
    assert parsed(lookahead={"alpha": 0.8}).fingerprint() != parsed().fingerprint()
