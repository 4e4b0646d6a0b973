"""THE architecture registry: one declaration per architecture, read by every pipeline.

Kedro builds pipelines before it reads configuration, so which namespaces exist is code, and
it is this file: the training, reporting, cross-validation, search and fish pipelines, the
comparison and the viz tests all derive their namespaces from :data:`ARCHITECTURES`. Each
namespace's recipe (``<namespace>: {model: ..., train: ...}``) lives in ``conf/``.

Adding an architecture (CONTRIBUTING.md): a builder module in ``models/`` (discovered, not
listed), one :func:`register` call here, one recipe in ``conf/base/parameters_*.yml``.

Reported figures are the papers' own numbers (``../shared/seeds``), each with the split it
was measured on; they are shown beside our measurements, never mixed with them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# The pipelines that train architectures (a namespace's ``pipeline``).
PRODUCERS = ("training", "autoencoder", "hyperparameter_search", "fish_subset")
TASKS = ("classification", "reconstruction")
SPLITS = ("test", "validation", "training", "cross_validation", "holdout")
# How an architecture's data is used. ``holdout``: fit on the training split, watch the
# validation split, test set untouched until the final evaluation (the project's default).
# ``paper``: as the paper ran it (paper 000: fit on all 50,000 training images and pass the
# test set as the per-epoch validation data, so callbacks and curves see the test set).
PROTOCOLS = ("holdout", "paper")


@dataclass(frozen=True)
class ReportedFigure:
    """One number a paper reports for an architecture.

    ``metric``: ``accuracy`` | ``loss`` | ``coarse_accuracy`` | ``training_accuracy`` …
    (accuracies in %); ``split``: one of :data:`SPLITS` (``test`` is CIFAR-100's test set;
    ``validation`` whatever the paper calls so; ``cross_validation`` a K-fold mean over the
    training set; ``holdout`` a test set held by someone else); ``source``: where in the paper.
    """

    metric: str
    value: float
    split: str
    source: str
    note: str = ""


@dataclass(frozen=True)
class Architecture:
    """One trainable architecture: a Kedro namespace and everything pipelines need to know.

    Attributes:
        namespace: the Kedro namespace (``<namespace>.model`` … in the catalog) and the key of
            its recipe in conf.
        paper: ``"000 Rana & Vanzara"`` … or ``"ours"``.
        builder: the registered builder the recipe's ``model.builder`` must name.
        pipeline: the pipeline that trains it (one of :data:`PRODUCERS`).
        task: ``classification`` or ``reconstruction`` (the autoencoder).
        extra_inputs: training-node argument → dataset outside the namespace (e.g. the
            pre-trained autoencoder of paper 003's transfer models).
        default_run: trained by the default ``kedro run`` (``pipeline == "training"``) or
            compared by it (other producers, when their results exist). ``False`` with
            ``pipeline == "training"``: an opt-in experiment of a paper, trained and reported
            by ``kedro run --pipeline=paper_studies``.
        cross_validation: in the cross_validation pipeline's default set.
        compared: in the CIFAR-100 comparison (the fish subset and the autoencoder are not).
        label_mode: ``fine`` or ``coarse`` (the labels its recipe trains on).
        reported: the paper's figures for it.
        progression_stage: paper 002's M1…M7 stage (its Figure 2), if any.
        coarse_variant: the namespace of the same model trained on the 20 superclasses.
        protocol: one of :data:`PROTOCOLS` (how the training node splits the data).
    """

    namespace: str
    paper: str
    builder: str
    pipeline: str = "training"
    task: str = "classification"
    extra_inputs: Mapping[str, str] = field(default_factory=dict)
    default_run: bool = True
    cross_validation: bool = False
    compared: bool = True
    label_mode: str = "fine"
    reported: tuple[ReportedFigure, ...] = ()
    progression_stage: int | None = None
    coarse_variant: str | None = None
    protocol: str = "holdout"

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"{self.namespace}: protocol {self.protocol!r} not in {PROTOCOLS}")
        if self.pipeline not in PRODUCERS:
            raise ValueError(f"{self.namespace}: pipeline {self.pipeline!r} not in {PRODUCERS}")
        if self.task not in TASKS:
            raise ValueError(f"{self.namespace}: task {self.task!r} not in {TASKS}")
        for figure in self.reported:
            if figure.split not in SPLITS:
                raise ValueError(
                    f"{self.namespace}: reported split {figure.split!r} not in {SPLITS}"
                )
        # A plain dict (a copy): a read-only proxy could not be pickled to runner processes.
        object.__setattr__(self, "extra_inputs", dict(self.extra_inputs))


_REGISTRY: dict[str, Architecture] = {}


def register(architecture: Architecture) -> Architecture:
    """Add ``architecture`` to the registry (a namespace can be registered once)."""
    if architecture.namespace in _REGISTRY:
        raise ValueError(f"architecture {architecture.namespace!r} is registered twice")
    _REGISTRY[architecture.namespace] = architecture
    return architecture


def unregister(namespace: str) -> None:
    """Remove ``namespace`` (tests that register a toy architecture clean up with it)."""
    _REGISTRY.pop(namespace, None)


def get(namespace: str) -> Architecture:
    """The registered architecture ``namespace``, or a ``KeyError`` listing the known ones."""
    try:
        return _REGISTRY[namespace]
    except KeyError:
        raise KeyError(
            f"unknown architecture {namespace!r}; registered: {', '.join(_REGISTRY)}"
        ) from None


def all_architectures() -> tuple[Architecture, ...]:
    """Every registered architecture, in registration order (the papers' order)."""
    return tuple(_REGISTRY.values())


def produced_by(pipeline: str) -> tuple[Architecture, ...]:
    """The architectures ``pipeline`` trains."""
    return tuple(a for a in _REGISTRY.values() if a.pipeline == pipeline)


def default_training() -> tuple[Architecture, ...]:
    """What the default run's training pipeline trains."""
    return tuple(a for a in produced_by("training") if a.default_run)


def compared(pipelines: Iterable[str] = PRODUCERS) -> tuple[Architecture, ...]:
    """The CIFAR-100 classifiers in the comparison, produced by one of ``pipelines``."""
    wanted = set(pipelines)
    return tuple(
        a for a in _REGISTRY.values() if a.compared and a.default_run and a.pipeline in wanted
    )


def seedable() -> tuple[Architecture, ...]:
    """The architectures ``training_run.seeds`` may repeat: the default run's compared
    classifiers that the training pipeline trains (``seed_axis``)."""
    return compared(("training",))


def cross_validation_defaults() -> tuple[Architecture, ...]:
    """The cross_validation pipeline's default architectures."""
    return tuple(a for a in _REGISTRY.values() if a.cross_validation)


def progression() -> tuple[Architecture, ...]:
    """Paper 002's M1…M7, in stage order."""
    staged = [a for a in _REGISTRY.values() if a.progression_stage is not None]
    return tuple(sorted(staged, key=lambda a: a.progression_stage))


# Paper 000's Table I: accuracy (%) and loss at the end of these epochs, on the training set
# and on what the paper calls validation (the test set passed to ``fit``).
PAPER_000_TABLE_I = {
    "epoch": (1, 26, 51, 76, 101, 126, 151, 172),
    "accuracy": (18.15, 54.78, 67.93, 75.03, 81.12, 84.10, 86.07, 87.18),
    "val_accuracy": (19.17, 56.36, 62.54, 63.69, 63.91, 66.03, 66.33, 67.66),
    "loss": (3.47, 1.70, 1.14, 0.85, 0.65, 0.54, 0.48, 0.44),
    "val_loss": (3.47, 1.63, 1.45, 1.45, 1.49, 1.63, 1.67, 1.60),
}

# Paper 001's Fig. 11: the classification report of the final model for classes 0-9 (test
# set, 100 images each): class index → (precision, recall, f1-score).
PAPER_001_FIGURE_11 = {
    0: (0.81, 0.74, 0.77), 1: (0.74, 0.72, 0.73), 2: (0.45, 0.39, 0.42),
    3: (0.53, 0.17, 0.26), 4: (0.53, 0.09, 0.15), 5: (0.30, 0.56, 0.39),
    6: (0.56, 0.57, 0.56), 7: (0.72, 0.29, 0.41), 8: (0.48, 0.70, 0.57),
    9: (0.71, 0.64, 0.67),
}  # fmt: skip

# Paper 002's per-class statements about model 7 (Section III), as checkable bounds on the test
# set's per-class precision, recall and F1. CIFAR-100 has no "cupboard": its nearest class is
# "wardrobe". "Animals and people" are the superclasses below.
PAPER_002_PER_CLASS = (
    {"classes": ("wardrobe", "road"), "above": 0.80,
     "statement": "especially good at cupboards and roads (above 80 % in accuracy, recall, f1)"},
    {"superclasses": ("aquatic_mammals", "fish", "insects", "large_carnivores",
                      "large_omnivores_and_herbivores", "medium_mammals",
                      "non-insect_invertebrates", "people", "reptiles", "small_mammals"),
     "below": 0.20, "statement": "poor at animals and people (all below 20 %)"},
)  # fmt: skip

# Paper 003's names, and Table II's row of its chosen model (Arch2-Hyp3): p + t·s_p for
# accuracy(Arch2-Hyp3) − accuracy(column), fractions, as printed.
PAPER_003_NAMES = {
    "chakraborti_arch1_hyp1": "Arch1-Hyp1", "chakraborti_arch1_hyp2": "Arch1-Hyp2",
    "chakraborti_arch1_hyp3": "Arch1-Hyp3", "chakraborti_arch2_hyp1": "Arch2-Hyp1",
    "chakraborti_arch2_hyp2": "Arch2-Hyp2", "chakraborti_arch2_hyp3": "Arch2-Hyp3",
    "chakraborti_t_arch1": "T_Arch1", "chakraborti_t_arch2": "T_Arch2",
}  # fmt: skip
PAPER_003_CHOSEN = "chakraborti_arch2_hyp3"
PAPER_003_TABLE_II_CHOSEN_ROW = {
    "chakraborti_arch1_hyp1": 0.0687, "chakraborti_arch1_hyp2": 0.0265,
    "chakraborti_arch1_hyp3": 0.0066, "chakraborti_arch2_hyp1": 0.0561,
    "chakraborti_arch2_hyp2": 0.0113, "chakraborti_t_arch1": 0.1273,
    "chakraborti_t_arch2": 0.2156,
}  # fmt: skip

# Figures that describe a run rather than score it: its parameter count and its data split.
COUNT_METRICS = ("trainable_params", "train_images", "validation_images", "test_images")
_TEST_SET_WATCHED = "the test set, passed to fit as validation data"


def data_split_figures(
    train: int, watched: int, test: int, source: str, notes=("", "", ""), watched_split="validation"
) -> tuple[ReportedFigure, ...]:
    """A paper's data split as figures: images fitted on, watched each epoch, tested on."""
    return (
        ReportedFigure("train_images", train, "training", source, notes[0]),
        ReportedFigure("validation_images", watched, watched_split, source, notes[1]),
        ReportedFigure("test_images", test, "test", source, notes[2]),
    )


# ---------------------------------------------------------------------------- the papers
_P000, _P001, _P002 = "000 Rana & Vanzara", "001 Khanna", "002 Chavez Lazo"
_P003, _P004 = "003 Chakraborti & Moore", "004 Corsino et al."

register(
    Architecture(
        "rana_elu_cnn", _P000, "rana_elu_cnn",
        reported=(
            ReportedFigure("accuracy", 67.66, "test", "Table I, epoch 172 of 200",
                           "the paper calls it validation; it is the test set passed to fit"),
            ReportedFigure("loss", 1.60, "test", "Table I, epoch 172 of 200"),
            ReportedFigure("training_accuracy", 87.18, "training", "Table I, epoch 172 of 200",
                           "the abstract's 87%"),
            *data_split_figures(50_000, 10_000, 10_000, "Sections III-C, III-E",
                                ("all of the official training set", _TEST_SET_WATCHED,
                                 "the same test set"), "test"),
        ),
    )
)  # fmt: skip
# Paper 000 as the paper ran it (opt-in): all 50,000 training images, the test set as the
# per-epoch "validation" data.
register(
    Architecture(
        "rana_elu_cnn_paper_protocol", _P000, "rana_elu_cnn", default_run=False,
        protocol="paper",
        reported=(
            ReportedFigure("accuracy", 67.66, "test", "Table I, epoch 172 of 200",
                           "the paper calls it validation; it is the test set passed to fit"),
            ReportedFigure("loss", 1.60, "test", "Table I, epoch 172 of 200"),
            *data_split_figures(50_000, 10_000, 10_000, "Sections III-C, III-E",
                                ("all of the official training set", _TEST_SET_WATCHED,
                                 "the same test set"), "test"),
        ),
    )
)  # fmt: skip
register(
    Architecture(
        "khanna_vgg_cnn", _P001, "khanna_vgg_cnn",
        reported=(
            ReportedFigure("accuracy", 59.09, "test", "Conclusion", "early stopping at epoch 49"),
            ReportedFigure("loss", 1.47, "test", "Conclusion"),
            ReportedFigure("accuracy", 59.28, "validation", "Conclusion"),
            ReportedFigure("loss", 1.42, "validation", "Conclusion"),
            ReportedFigure("training_accuracy", 64.96, "training", "Conclusion", "after 49 epochs"),
            ReportedFigure("trainable_params", 13_870_484, "training", "Section 3, Conclusion"),
            *data_split_figures(40_000, 10_000, 10_000, "Section 3",
                                ("80 % of the training set", "", "")),
        ),
    )
)  # fmt: skip
# Paper 001's opt-in experiments: the 5-layer baseline and the learning-rate / optimiser study.
register(
    Architecture(
        "khanna_baseline_cnn", _P001, "khanna_baseline_cnn", default_run=False,
        reported=(
            ReportedFigure("accuracy", 39.5, "test", "Section 3", "the 5-layer baseline"),
            ReportedFigure("accuracy", 38.74, "validation", "Fig. 8"),
            ReportedFigure("loss", 2.3989, "validation", "Fig. 8"),
            ReportedFigure("trainable_params", 643_492, "training", "Section 3"),
        ),
    )
)  # fmt: skip
# The study's accuracies are read off its curves (Figs. 3-5, 7: training and validation);
# the text gives approximate values and no split, so they are filed as validation figures.
_LEARNING_RATE_STUDY = {
    "adam_1e_2": (1.0, "Fig. 3", "about 1 %: the model learns nothing"),
    "adam_1e_3": (1.0, "Fig. 4", "about 1 %: the model learns nothing"),
    "adam_1e_5": (36.96, "Fig. 5", "learns, slower and lower than at 1e-4 (59 %)"),
    "rmsprop_1e_4": (58.0, "Fig. 7", "about 1 point below Adam at the same rate (59 %)"),
}
for _setting, (_accuracy, _source, _note) in _LEARNING_RATE_STUDY.items():
    register(
        Architecture(
            f"khanna_vgg_cnn_{_setting}", _P001, "khanna_vgg_cnn", default_run=False,
            reported=(ReportedFigure("accuracy", _accuracy, "validation", _source, _note),),
        )
    )  # fmt: skip

# Paper 002: progressive models M1…M6 (M7 is M6 with searched hyperparameters).
for _stage in range(1, 7):
    register(
        Architecture(
            f"chavez_m{_stage}", _P002, "chavez_progressive",
            progression_stage=_stage,
            coarse_variant="chavez_m1_coarse" if _stage == 1 else None,
            reported=(
                (ReportedFigure("accuracy", 18.5, "test", "Abstract, model 1"),
                 *data_split_figures(40_000, 10_000, 10_000, "Figure 1",
                                     ("400 images per class", "100 images per class, stratified",
                                      "100 per class")))
                if _stage == 1 else ()
            ),
        )
    )  # fmt: skip
register(
    Architecture(
        "chavez_m1_coarse", _P002, "chavez_progressive", label_mode="coarse",
        reported=(
            ReportedFigure(
                "coarse_accuracy", 37.7, "test", "Abstract, model 1 on the superclasses"
            ),
        ),
    )
)  # fmt: skip
register(
    Architecture(
        "chavez_m7", _P002, "chavez_progressive", pipeline="hyperparameter_search",
        progression_stage=7, coarse_variant="chavez_m7_coarse",
        reported=(ReportedFigure("accuracy", 59.5, "test", "Abstract, model 7"),),
    )
)  # fmt: skip
register(
    Architecture(
        "chavez_m7_coarse", _P002, "chavez_progressive", pipeline="hyperparameter_search",
        label_mode="coarse",
        reported=(
            ReportedFigure(
                "coarse_accuracy", 65.6, "test", "Abstract, model 7 on the superclasses"
            ),
        ),
    )
)  # fmt: skip

# Paper 003: two architectures × three widths, Table I's 5-fold means; then transfer models.
_TABLE_I = {
    (1, 1): (35.07, 6.58), (1, 2): (39.29, 5.49), (1, 3): (41.28, 5.09),
    (2, 1): (36.33, 6.42), (2, 2): (40.81, 5.59), (2, 3): (41.94, 5.52),
}  # fmt: skip
for (_arch, _hyp), (_accuracy, _loss) in _TABLE_I.items():
    _figures = (
        ReportedFigure("accuracy", _accuracy, "cross_validation", "Table I, 5-fold mean"),
        ReportedFigure("loss", _loss, "cross_validation", "Table I, 5-fold mean"),
    )
    if (_arch, _hyp) == (2, 3):
        _figures += (
            ReportedFigure("accuracy", 44.06, "holdout", "Section V",
                           "the chosen model on the instructor's hold-out test set"),
        )  # fmt: skip
    register(
        Architecture(
            f"chakraborti_arch{_arch}_hyp{_hyp}", _P003, f"chakraborti_arch{_arch}",
            cross_validation=True, reported=_figures,
        )
    )  # fmt: skip
register(
    Architecture(
        "autoencoder", _P003, "chakraborti_autoencoder", pipeline="autoencoder",
        task="reconstruction", compared=False,
    )
)  # fmt: skip
for _name, (_accuracy, _loss) in {"t_arch1": (29.21, 7.92), "t_arch2": (20.38, 5.74)}.items():
    register(
        Architecture(
            f"chakraborti_{_name}", _P003, f"chakraborti_{_name}",
            extra_inputs={"pretrained": "autoencoder_model"}, cross_validation=True,
            reported=(
                ReportedFigure("accuracy", _accuracy, "cross_validation", "Table I, 5-fold mean"),
                ReportedFigure("loss", _loss, "cross_validation", "Table I, 5-fold mean"),
            ),
        )
    )  # fmt: skip

# Paper 004: the frozen VGG16 on the five fish classes (its own 5-class test set).
register(
    Architecture(
        "fish_subset", _P004, "vgg16_transfer", pipeline="fish_subset",
        default_run=False, compared=False,
        reported=(
            ReportedFigure("accuracy", 68.0, "test", "Conclusion",
                           "the lower end: accuracy fluctuates between 68 % and 76 % (the test "
                           "set is the validation data)"),
            ReportedFigure("accuracy", 76.0, "test", "Conclusion", "the upper end"),
            ReportedFigure("overfitting_epoch", 12, "test", "Results",
                           "validation loss stagnates, then rises, after about epoch 12"),
            *data_split_figures(2_500, 500, 500, "Appendix",
                                ("500 per class", _TEST_SET_WATCHED, "100 per class"), "test"),
        ),
    )
)  # fmt: skip

# Ours: the recommended fast ResNet-9.
register(Architecture("resnet9_fast", "ours", "resnet9_fast"))
