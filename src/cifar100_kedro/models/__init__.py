"""Pure Keras model builders, one module per family of architectures.

Importing this package registers every builder in :data:`registry.BUILDERS`.
"""

from cifar100_kedro.models.registry import BUILDERS, build_model, get_builder, register_builder

# Family modules register themselves on import (keep this list in sync with models/).
from cifar100_kedro.models import (  # noqa: E402,F401  isort: skip
    paper000_rana,
    paper001_khanna,
    paper002_chavez,
    paper003_chakraborti,
    paper003_autoencoder,
    paper004_vgg_transfer,
    resnet_fast,
)

__all__ = ["BUILDERS", "build_model", "get_builder", "register_builder"]
