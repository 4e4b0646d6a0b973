"""Custom Kedro datasets: the CIFAR-100 archive reader and a numpy ``.npz`` dataset."""

from cifar100_kedro.datasets.cifar_archive_dataset import CIFAR100ArchiveDataset
from cifar100_kedro.datasets.numpy_dataset import NumpyDataset

__all__ = ["CIFAR100ArchiveDataset", "NumpyDataset"]
