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

# Paper 003's transfer models: the pre-trained autoencoder's encoder (pipelines/autoencoder),
# all layers retrained (T_Arch1) or frozen (T_Arch2), under five added dense layers.
PAPER_003_TRANSFER = ("chakraborti_t_arch1", "chakraborti_t_arch2")

# Beyond the papers: the recommended fast ResNet-9 (conf/base/parameters_resnet_fast.yml).
RESNET_FAST = ("resnet9_fast",)

ARCHITECTURES: tuple[str, ...] = (
    PAPER_000 + PAPER_001 + PAPER_002 + PAPER_003 + PAPER_003_TRANSFER + RESNET_FAST
)

# Extra node inputs per namespace: training-node argument → dataset (not namespaced).
EXTRA_INPUTS: dict[str, dict[str, str]] = {
    name: {"pretrained": "autoencoder_model"} for name in PAPER_003_TRANSFER
}
