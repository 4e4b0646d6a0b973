"""Converting a Keras model to SavedModel, ONNX and LiteRT/TFLite, checked against Keras 3.15 /
TF 2.21 / tf2onnx 1.17 (docs/export_and_predict.md has the details).

- Every export traces ``model(x, training=False)``. Keras' own ``model.export`` (SavedModel
  and, through it, ONNX) traces ``model.__call__`` without it, and the augmentation layers
  inside this project's models (RandomFlip, RandomTranslation, ...) default to
  ``training=True``: the exported graph would augment every image it serves (keras-team/keras
  #19108 shows the same with TFLite). The SavedModel is therefore built with
  ``keras.export.ExportArchive`` and an explicit inference endpoint.
- ONNX and TFLite convert one *frozen* inference function (variables and captured tensors
  folded into constants). tf2onnx's ``from_function`` leaves the tensors that Keras 3's
  ``Normalization`` layer captures as unfed graph inputs (resnet9_fast's ``standardize``),
  and ``TFLiteConverter.from_concrete_functions`` on the unfrozen function returned NaNs for
  chavez_m1 here.
"""

from __future__ import annotations

import re
from typing import Any

INPUT_NAME = "image"  # the exported models' input (uint8 N×32×32×3)


def input_signature(model: Any) -> list:
    """The model's input as a ``tf.TensorSpec`` with a free batch dimension."""
    import tensorflow as tf

    shape = tuple(model.inputs[0].shape[1:])
    dtype = tf.as_dtype(str(model.inputs[0].dtype))
    return [tf.TensorSpec((None, *shape), dtype, name=INPUT_NAME)]


def inference_function(model: Any) -> Any:
    """``tf.function`` of ``model(x, training=False)`` over the model's input signature."""
    import tensorflow as tf

    return tf.function(lambda x: model(x, training=False), input_signature=input_signature(model))


def saved_model_archive(model: Any) -> Any:
    """A ``keras.export.ExportArchive`` serving ``model`` in inference mode as ``serve`` (and
    as the ``serving_default`` signature TF Serving calls)."""
    import keras

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        "serve", lambda x: model(x, training=False), input_signature=input_signature(model)
    )
    return archive


def frozen_function(model: Any) -> Any:
    """The inference function with every variable and captured tensor folded to a constant."""
    # Not in tf's public namespace; it is what tf2onnx and the TFLite converter freeze with.
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    return convert_variables_to_constants_v2(inference_function(model).get_concrete_function())


def to_onnx(frozen: Any, opset: int | None = None) -> bytes:
    """An ONNX model (serialised ``ModelProto``) of a frozen function, with tf2onnx."""
    import tf2onnx

    inputs = [t.name for t in frozen.inputs]
    outputs = [t.name for t in frozen.outputs]
    proto, _ = tf2onnx.convert.from_graph_def(
        frozen.graph.as_graph_def(), input_names=inputs, output_names=outputs, opset=opset
    )
    return proto.SerializeToString()


def to_tflite(frozen: Any, select_tf_ops: bool = False) -> bytes:
    """A LiteRT/TFLite flatbuffer of a frozen function.

    Builtin ops only unless ``select_tf_ops`` (then TensorFlow ops the builtins lack are kept,
    and the model needs LiteRT's Flex delegate, which the plain runtime does not have).
    """
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if select_tf_ops:
        ops.append(tf.lite.OpsSet.SELECT_TF_OPS)
    converter.target_spec.supported_ops = ops
    return converter.convert()


def failure_reason(exc: BaseException) -> str:
    """One line saying why a conversion failed (unsupported ops named where the converter says)."""
    if isinstance(exc, ModuleNotFoundError):
        return f"{exc.name} is not installed: pip install -e \".[export]\""
    text = str(exc)
    ops = sorted(set(re.findall(r"(?:'tf\.|Op type not registered |op \[?)(\w+)", text)))
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
    detail = f"unsupported ops: {', '.join(ops)}" if ops else first[:300]
    return f"{type(exc).__name__}: {detail}"
