"""CIFAR-100 raw-data sources: label metadata, the archive format, download, synthetic data."""
