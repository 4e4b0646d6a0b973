"""CIFAR-100 CNNs from five published studies, reproduced and compared with Kedro."""

__version__ = "0.1.0"
