"""Pure Keras model builders, one module per family of architectures.

Importing this package imports every module in it (discovered, not listed), and each module
registers its builders in :data:`registry.BUILDERS` with ``@register_builder``.
"""

import importlib
import pkgutil

from cifar100_kedro.models.registry import BUILDERS, build_model, get_builder, register_builder

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "registry":
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["BUILDERS", "build_model", "get_builder", "register_builder"]
