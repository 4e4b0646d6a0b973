"""Custom Kedro datasets: the CIFAR-100 archive reader, a numpy ``.npz`` dataset, a Markdown
file kedro-viz previews as HTML, a Keras model dataset that knows the project's custom
layers, exported models (SavedModel, ONNX, TFLite) and users' images to predict."""

from cifar100_kedro.datasets.cifar_archive_dataset import CIFAR100ArchiveDataset
from cifar100_kedro.datasets.exported_model_dataset import ExportedModelDataset, ExportResult
from cifar100_kedro.datasets.image_source_dataset import ImageSourceDataset
from cifar100_kedro.datasets.markdown_dataset import MarkdownDataset
from cifar100_kedro.datasets.numpy_dataset import NumpyDataset


def __getattr__(name: str):
    # Imported lazily: it pulls in TensorFlow, which the data pipeline does not need.
    if name == "KerasModelDataset":
        from cifar100_kedro.datasets.keras_model_dataset import KerasModelDataset

        return KerasModelDataset
    raise AttributeError(name)


__all__ = [
    "CIFAR100ArchiveDataset",
    "ExportResult",
    "ExportedModelDataset",
    "ImageSourceDataset",
    "KerasModelDataset",
    "MarkdownDataset",
    "NumpyDataset",
]
