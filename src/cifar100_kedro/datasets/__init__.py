"""Custom Kedro datasets: the CIFAR-100 archive reader, a numpy ``.npz`` dataset, a Markdown
file kedro-viz previews as HTML, and a Keras model dataset that knows the project's custom
layers."""

from cifar100_kedro.datasets.cifar_archive_dataset import CIFAR100ArchiveDataset
from cifar100_kedro.datasets.markdown_dataset import MarkdownDataset
from cifar100_kedro.datasets.numpy_dataset import NumpyDataset


def __getattr__(name: str):
    # Imported lazily: it pulls in TensorFlow, which the data pipeline does not need.
    if name == "KerasModelDataset":
        from cifar100_kedro.datasets.keras_model_dataset import KerasModelDataset

        return KerasModelDataset
    raise AttributeError(name)


__all__ = ["CIFAR100ArchiveDataset", "KerasModelDataset", "MarkdownDataset", "NumpyDataset"]
