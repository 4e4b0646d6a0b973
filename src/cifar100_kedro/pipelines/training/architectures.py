"""The architectures the default run trains: one Kedro namespace each.

Kedro builds pipelines before it reads configuration, so the list of namespaces is code;
each namespace's recipe (builder, hyperparameters, training settings) is
``<namespace>: {model: ..., train: ...}`` in ``conf/base/parameters_training.yml``.
"""

from __future__ import annotations

# Paper 000 (Rana & Vanzara): six 256-filter ELU convolutions, RMSprop.
PAPER_000 = ("rana_elu_cnn",)
# Paper 001 (Khanna): the 13,870,484-parameter VGG-style network, Adam + early stopping.
PAPER_001 = ("khanna_vgg_cnn",)
# Paper 002 (Chavez Lazo): progressive models M1..M6 (M7 comes from hyperparameter_search);
# M1 is also trained on the 20 coarse labels, as the paper reports it.
PAPER_002 = tuple(f"chavez_m{stage}" for stage in range(1, 7)) + ("chavez_m1_coarse",)
# Paper 003 (Chakraborti & Moore): two architectures x three width settings.
PAPER_003 = tuple(
    f"chakraborti_arch{arch}_hyp{hyp}" for arch in (1, 2) for hyp in (1, 2, 3)
)

ARCHITECTURES: tuple[str, ...] = PAPER_000 + PAPER_001 + PAPER_002 + PAPER_003
