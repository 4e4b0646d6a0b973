"""Using trained models: reading users' images, loading a model by namespace or path in any
exported format, batched top-k prediction.

The library layer under the ``predict`` and ``export`` pipelines and the reporting pipeline's
new-images report (no pipeline imports another's modules; they share this one).
"""

from cifar100_kedro.inference.images import (
    ACCEPTED_FORMATS,
    IMAGE_SUFFIXES,
    Batch,
    ImageSource,
    InferenceError,
    decode_files,
    decode_image,
    open_image_source,
)
from cifar100_kedro.inference.models import (
    FORMATS,
    MODEL_FILES,
    KerasPredictor,
    Predictor,
    load_keras_model,
    load_predictor,
    load_predictor_from_path,
    resolve_model,
)
from cifar100_kedro.inference.tables import (
    TOP_K_COLUMNS,
    class_names_for,
    predict_source,
    superclasses_for,
    top_k_table,
)

__all__ = [
    "ACCEPTED_FORMATS",
    "FORMATS",
    "IMAGE_SUFFIXES",
    "MODEL_FILES",
    "TOP_K_COLUMNS",
    "Batch",
    "ImageSource",
    "InferenceError",
    "KerasPredictor",
    "Predictor",
    "class_names_for",
    "decode_files",
    "decode_image",
    "load_keras_model",
    "load_predictor",
    "load_predictor_from_path",
    "open_image_source",
    "predict_source",
    "resolve_model",
    "superclasses_for",
    "top_k_table",
]
