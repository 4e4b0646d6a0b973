"""Loading a model for prediction (by namespace or path) in any of the project's formats.

Every format is wrapped in a :class:`Predictor`: ``predict(uint8 N×H×W×3) → float32 N×C``
class probabilities, the same call for a ``.keras`` model, a TensorFlow SavedModel, an ONNX
model (onnxruntime) or a LiteRT/TFLite flatbuffer. TensorFlow, onnxruntime and LiteRT are
imported only when a model of theirs is loaded.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from cifar100_kedro.inference.images import InferenceError

FORMATS = ("keras", "saved_model", "onnx", "tflite")
# Where a namespace's model files are, relative to its folder under data/06_models/<namespace>/
# (conf/base/catalog.yml's "{namespace}.model" and catalog_export.yml's "{namespace}.exports").
MODEL_FILES = {
    "keras": "model.keras",
    "saved_model": "export/saved_model/1",  # TF Serving's <model>/<version>/ layout
    "onnx": "export/model.onnx",
    "tflite": "export/model.tflite",
}


class Predictor:
    """One loaded model: ``predict(images)`` → class probabilities (float32 N×C).

    Attributes:
        name: what logs and tables call it (a namespace or a file name).
        format: one of :data:`FORMATS`.
        path: the file or folder it was loaded from (``None`` for an in-memory model).
        input_shape: ``(height, width, channels)`` it takes (``None`` where not fixed).
    """

    format = ""

    def __init__(self, name: str, path: Path | None, input_shape: tuple) -> None:
        self.name = name
        self.path = path
        self.input_shape = input_shape

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities of a uint8 ``N×H×W×3`` batch."""
        return np.asarray(self._predict(np.ascontiguousarray(images, dtype=np.uint8)), np.float32)

    def _predict(self, images: np.ndarray) -> Any:
        raise NotImplementedError

    def check_input(self, size: int) -> None:
        """Fail unless the model takes ``size×size×3`` images (what the readers produce)."""
        expected = (size, size, 3)
        shape = tuple(self.input_shape or ())
        if len(shape) != 3 or any(d not in (None, e) for d, e in zip(shape, expected)):
            raise InferenceError(
                f"model {self.name!r} ({self.path or 'in memory'}) takes inputs of shape "
                f"{('N', *shape)}, but the images are N×{size}×{size}×3 (uint8): this project's "
                "models take raw 32×32 RGB images"
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.path})"


def _dims(shape: Any) -> tuple:
    return tuple(None if d is None or (isinstance(d, int) and d < 0) or isinstance(d, str)
                 else int(d) for d in shape)  # fmt: skip


class KerasPredictor(Predictor):
    format = "keras"

    def __init__(self, model: Any, name: str, path: Path | None = None) -> None:
        super().__init__(name, path, _dims(model.inputs[0].shape[1:]))
        self.model = model

    def _predict(self, images):
        # predict_on_batch: the compiled inference function (training=False) without the
        # progress bar and per-call dataset that model.predict sets up.
        return self.model.predict_on_batch(images)


class SavedModelPredictor(Predictor):
    format = "saved_model"

    def __init__(self, path: Path, name: str) -> None:
        import tensorflow as tf

        loaded = tf.saved_model.load(str(path))
        signature = loaded.signatures.get("serving_default")
        if signature is None:
            raise InferenceError(f"{path}: SavedModel without a 'serving_default' signature")
        specs = list(signature.structured_input_signature[1].values())
        if len(specs) != 1:
            raise InferenceError(f"{path}: the model takes {len(specs)} inputs, not one image")
        super().__init__(name, path, _dims(specs[0].shape[1:]))
        self._loaded = loaded  # the signature's variables live as long as this object
        self._signature = signature
        self._input_name = next(iter(signature.structured_input_signature[1]))
        self._tf = tf

    def _predict(self, images):
        outputs = self._signature(**{self._input_name: self._tf.constant(images)})
        return next(iter(outputs.values())).numpy()


class OnnxPredictor(Predictor):
    format = "onnx"

    def __init__(self, path: Path, name: str, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise InferenceError(
                f"{path}: running ONNX models needs onnxruntime: pip install -e '.[export]'"
            ) from None
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
        options.log_severity_level = 3  # errors only: its graph-optimisation notes are noise
        try:
            self.session = ort.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own pybind exception types
            raise InferenceError(f"{path}: onnxruntime cannot load this model ({exc})") from exc
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise InferenceError(f"{path}: the model takes {len(inputs)} inputs, not one image")
        super().__init__(name, path, _dims(inputs[0].shape[1:]))
        self._input_name = inputs[0].name

    def _predict(self, images):
        return self.session.run(None, {self._input_name: images})[0]


def _litert_interpreter(path: Path, threads: int | None):
    try:  # LiteRT, the runtime TensorFlow points to (tf.lite.Interpreter is deprecated)
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    try:
        return Interpreter(model_path=str(path), num_threads=threads)
    except (ValueError, RuntimeError) as exc:
        raise InferenceError(f"{path}: not a loadable LiteRT/TFLite model ({exc})") from exc


class LiteRTPredictor(Predictor):
    format = "tflite"

    def __init__(self, path: Path, name: str, threads: int | None = None) -> None:
        self.interpreter = _litert_interpreter(path, threads)
        details = self.interpreter.get_input_details()
        if len(details) != 1:
            raise InferenceError(f"{path}: the model takes {len(details)} inputs, not one image")
        self._input = details[0]
        super().__init__(name, path, _dims(self._input["shape_signature"][1:]))
        self._output_index = self.interpreter.get_output_details()[0]["index"]
        self._batch = 0

    def _predict(self, images):
        if images.shape[0] != self._batch:  # the batch dimension is resized per batch size
            self.interpreter.resize_tensor_input(self._input["index"], images.shape)
            self.interpreter.allocate_tensors()
            self._batch = images.shape[0]
        self.interpreter.set_tensor(self._input["index"], images)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self._output_index).copy()


def load_keras_model(path: str | os.PathLike) -> Any:
    """A ``.keras`` file, with the project's registered layers and schedules importable."""
    import keras

    import cifar100_kedro.training.layers
    import cifar100_kedro.training.schedules  # noqa: F401

    try:
        return keras.models.load_model(path, compile=False)
    except (OSError, ValueError, TypeError) as exc:
        raise InferenceError(f"{path}: not a loadable .keras model ({exc})") from exc


def _saved_model_dir(path: Path) -> Path | None:
    if (path / "saved_model.pb").is_file():
        return path
    # TF Serving's base path: numbered version folders, the highest one served.
    versions = sorted(
        (p for p in path.iterdir() if p.name.isdigit() and (p / "saved_model.pb").is_file()),
        key=lambda p: int(p.name),
    )
    return versions[-1] if versions else None


def load_predictor_from_path(
    path: str | os.PathLike, name: str | None = None, threads: int | None = None
) -> Predictor:
    """The model at ``path``, its format told by what it is (``.keras``, ``.onnx``,
    ``.tflite`` file, or a SavedModel folder)."""
    path = Path(path)
    name = name or path.name
    if not path.exists():
        raise InferenceError(f"{path}: no such model file or folder")
    if path.is_dir():
        saved = _saved_model_dir(path)
        if saved is None:
            raise InferenceError(f"{path}: a folder, but not a SavedModel (no saved_model.pb)")
        return SavedModelPredictor(saved, name)
    suffix = path.suffix.lower()
    if suffix == ".keras":
        return KerasPredictor(load_keras_model(path), name, path)
    if suffix == ".onnx":
        return OnnxPredictor(path, name, threads)
    if suffix in (".tflite", ".litert"):
        return LiteRTPredictor(path, name, threads)
    raise InferenceError(
        f"{path}: unknown model format {suffix or '(no extension)'}; expected a .keras, "
        ".onnx or .tflite file or a SavedModel folder"
    )


def resolve_model(spec: str, models_folder: str | os.PathLike, fmt: str = "keras") -> Path:
    """A model's path from ``spec``: a trained namespace (its ``fmt`` file under
    ``models_folder``) or a path to a model file or folder."""
    if fmt not in FORMATS:
        raise InferenceError(f"predict.format must be one of {FORMATS}, got {fmt!r}")
    if not spec or not isinstance(spec, str):
        raise InferenceError(f"predict.model must name a namespace or a path, got {spec!r}")
    as_path = Path(spec)
    looks_like_path = os.sep in spec or as_path.suffix.lower() in (".keras", ".onnx", ".tflite")
    if as_path.exists() or looks_like_path:
        return as_path
    folder = Path(models_folder)
    candidate = folder / spec / MODEL_FILES[fmt]
    if candidate.exists():
        return candidate
    trained = sorted(
        p.name for p in folder.glob("*") if (p / MODEL_FILES[fmt]).exists()
    ) if folder.is_dir() else []  # fmt: skip
    hint = (
        "run `kedro run --pipeline=export` first"
        if fmt != "keras"
        else "train it first (`kedro run --namespaces=...`)"
    )
    raise InferenceError(
        f"predict.model {spec!r}: no such file, and no {fmt} model {candidate}; {hint}. "
        f"Namespaces with a {fmt} model: {', '.join(trained) or 'none'}"
    )


def load_predictor(
    spec: str, models_folder: str | os.PathLike, fmt: str = "keras", threads: int | None = None
) -> Predictor:
    """:func:`resolve_model`, then :func:`load_predictor_from_path` (named after ``spec``)."""
    path = resolve_model(spec, models_folder, fmt)
    name = spec if path != Path(spec) else path.name
    return load_predictor_from_path(path, name, threads)
