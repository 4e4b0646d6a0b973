"""Device settings: which precision each machine gets (training/device.py)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from cifar100_kedro.training import device
from cifar100_kedro.training.engine import fit_model

CPUINFO = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx512f {extra}\n"


def test_cpu_flags_are_read_from_the_flags_line():
    flags = device.cpu_flags(CPUINFO.format(extra="avx512_bf16"))
    assert {"fpu", "avx512f", "avx512_bf16"} <= flags
    assert device.cpu_has_bf16(flags)
    assert device.cpu_has_bf16(device.cpu_flags(CPUINFO.format(extra="amx_bf16 amx_tile")))
    assert not device.cpu_has_bf16(device.cpu_flags(CPUINFO.format(extra="avx2")))
    assert device.cpu_flags("no flags here") == frozenset()


@pytest.mark.parametrize(
    ("requested", "gpus", "cpu_bf16", "xla", "expected"),
    [
        ("off", [], True, False, "float32"),
        ("float32", [(9, 0)], False, False, "float32"),
        ("mixed_bfloat16", [], True, False, "mixed_bfloat16"),  # CPU with avx512_bf16 / amx
        ("mixed_bfloat16", [(9, 0)], False, False, "mixed_bfloat16"),
        ("mixed_float16", [(7, 0)], False, False, "mixed_float16"),
        ("auto", [(9, 0)], False, True, "mixed_bfloat16"),  # H100: bf16 tensor cores
        ("auto", [(7, 5)], False, False, "mixed_float16"),  # T4: no bf16
        ("auto", [], True, False, "mixed_bfloat16"),  # measured: 1.6-1.7× less CPU per image
        ("auto", [], True, True, "float32"),  # XLA on CPU loses the bf16 gain (measured)
        ("auto", [], False, False, "float32"),  # CPU without bf16 instructions
    ],
)
def test_precision_per_hardware(requested, gpus, cpu_bf16, xla, expected):
    assert device.choose_precision(requested, gpus, cpu_bf16, xla) == expected


@pytest.mark.parametrize(
    ("requested", "message"),
    [("mixed_bfloat16", "avx512_bf16 or amx_bf16"), ("mixed_float16", "needs a GPU")],
)
def test_unsupported_precision_is_refused_naming_the_key(requested, message):
    with pytest.raises(ValueError, match=rf"'device.mixed_precision' is '{requested}'.*{message}"):
        device.choose_precision(requested, [], cpu_bf16=False)


def test_this_machine_trains_in_bfloat16_or_refuses_it_before_training(tmp_path):
    """On a CPU with bfloat16 the engine trains in it (float32 outputs); elsewhere it stops."""
    rng = np.random.default_rng(0)
    split = {
        "images": rng.integers(0, 256, (32, 16, 16, 3)).astype(np.uint8),
        "fine": np.arange(32) % 4,
        "coarse": np.arange(32) % 2,
    }
    train = {
        "epochs": 1, "batch_size": 16, "verbose": 0, "normalization": "rescale",
        "optimizer": {"name": "sgd", "learning_rate": 0.01},
    }  # fmt: skip
    settings = {"mixed_precision": "mixed_bfloat16", "seed": 3}
    try:
        if not device.cpu_has_bf16(
            device.cpu_flags()
        ) and not device.tf.config.list_physical_devices("GPU"):
            with pytest.raises(ValueError, match="device.mixed_precision"):
                device.runtime(settings)
            return
        model, history, _ = fit_model(
            split, split, None, {"builder": "resnet9_fast", "width": 4}, train,
            architecture="bf16_check", work_dir=tmp_path, device_settings=settings,
        )  # fmt: skip
        conv = next(
            layer for layer in model.get_layer("resnet9_fast").layers if "conv" in layer.name
        )
        assert conv.compute_dtype == "bfloat16" and conv.variable_dtype == "float32"
        assert model.output.dtype == "float32"
        assert np.isfinite(history["loss"]).all()
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_a_later_run_without_determinism_turns_it_off_and_keeps_xla():
    from tensorflow.python.framework.config import is_op_determinism_enabled

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    device.runtime({"deterministic": True})
    assert is_op_determinism_enabled()
    model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    assert model.jit_compile is False  # Keras turns XLA off under op determinism
    device.runtime({"deterministic": False, "xla": True})
    assert not is_op_determinism_enabled()
    model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    assert model.jit_compile is True


# Off by default (its optimiser thread stalled iterator teardown: inputs.pipeline_options).
@pytest.mark.parametrize(("settings", "autotune"), [({}, False), ({"data_autotune": True}, True)])
def test_the_engine_input_pipelines_follow_device_data_autotune(
    tmp_path, monkeypatch, settings, autotune
):
    from cifar100_kedro.training import engine
    from tests.tiny_models import tiny_split

    built = []

    def recording_prepare_data(*args, **kwargs):
        data = engine_prepare_data(*args, **kwargs)
        built.append(data)
        return data

    engine_prepare_data = engine.prepare_data
    monkeypatch.setattr(engine, "prepare_data", recording_prepare_data)
    train = {
        "epochs": 1, "batch_size": 8, "verbose": 0, "normalization": "rescale",
        "optimizer": {"name": "sgd", "learning_rate": 0.1},
    }  # fmt: skip
    fit_model(
        tiny_split(16, 0), tiny_split(8, 1), None, {"builder": "resnet9_fast", "width": 4},
        train, architecture="autotune", work_dir=tmp_path, device_settings=settings,
    )  # fmt: skip
    assert built
    for data in built:
        training = data.train_for(iterations=keras.Variable(0, dtype="int64"))
        for dataset in (training, data.validation):
            assert dataset.options().autotune.enabled is autotune
        assert training.options().deterministic  # the training order stays a pure function


# Keras would build the pipeline of a NumPy predict with the autotuner on (a 45 s idle
# stall after one of two 97 s predicts, measured: inputs.predict_arrays).
def test_predictions_run_over_a_pipeline_with_the_autotuner_off():
    from cifar100_kedro.training.inputs import predict_arrays

    layers = [keras.Input((4, 4, 3)), keras.layers.Flatten(), keras.layers.Dense(3)]
    model = keras.Sequential(layers)
    images = np.random.default_rng(0).integers(0, 255, (10, 4, 4, 3)).astype("float32")
    given = []
    keras_predict = model.predict
    model.predict = lambda x, **kwargs: given.append(x) or keras_predict(x, **kwargs)

    probabilities = predict_arrays(model, images, batch_size=4)

    assert isinstance(given[0], tf.data.Dataset)
    assert given[0].options().autotune.enabled is False
    assert given[0].options().deterministic  # the rows stay in the order of the images
    np.testing.assert_allclose(probabilities, keras_predict(images, verbose=0), rtol=1e-5)
