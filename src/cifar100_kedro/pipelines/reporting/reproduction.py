"""The papers' own tables and figures regenerated from our results, the paper's number beside ours.

One page per paper (``data/08_reporting/reproduction/paper_00N.md``, with its CSV tables and PNG
figures) and an index page. Each page has a table per table or figure of the paper: the
paper's value, ours, the difference (ours − paper), the split of each, the protocol, epochs
and parameter count of our run; then the paper's protocol and the documented deviations.

What comes from where:

- every number a paper reports is the registry's (:mod:`cifar100_kedro.architectures`):
  each model's ``Architecture.reported`` (scores, parameter counts, data splits, with their
  split and source) and the paper-wide tables ``PAPER_000_TABLE_I``,
  ``PAPER_001_FIGURE_11``, ``PAPER_003_TABLE_II_CHOSEN_ROW``; they are bound to the nodes as
  plain data (:func:`paper_registry`);
- how each page is laid out (its sections) and every paper's deviations are data here
  (:data:`PAPERS`);
- ours are the per-architecture results (``<ns>.metrics``, ``<ns>.history``,
  ``<ns>.training_summary``); those another pipeline produces come through
  ``<ns>.*_if_present`` (``None`` until it has run), and their rows say "not run".

Every function is pure: data in, data out. Missing values print as "–", never ``nan``.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from cifar100_kedro.architectures import (
    COUNT_METRICS,
    PAPER_000_TABLE_I,
    PAPER_001_FIGURE_11,
    PAPER_003_CHOSEN,
    PAPER_003_NAMES,
    PAPER_003_TABLE_II_CHOSEN_ROW,
    Architecture,
    ReportedFigure,
)

# ReportedFigure.metric values shown in the tables.
SCORES = ("accuracy", "coarse_accuracy", "training_accuracy", "loss")
COUNTS = COUNT_METRICS
INTEGERS = (*COUNTS, "overfitting_epoch")
PERCENT = ("accuracy", "coarse_accuracy", "training_accuracy", "val_accuracy")
MISSING = "–"
NOT_RUN = "not run"


# ------------------------------------------------------------------ the papers, as data
@dataclass(frozen=True)
class Section:
    """One table of a paper's page.

    Attributes:
        title: the heading: which table or figure of the paper.
        models: ``fnmatch`` patterns of the namespaces it shows (in registry order).
        kind: ``figures`` (reported figures beside ours), ``epochs`` (paper 000's Table I),
            ``table_2`` (paper 003's Table II), ``class_report`` (paper 001's Fig. 11).
        ours: for ``figures``, which of our numbers stands beside the paper's: ``same`` (ours
            on the figure's split, as near as we have it), ``test`` (our test-set evaluation),
            ``cross_validation`` (the cross_validation pipeline's Table I).
        metrics: the ``ReportedFigure.metric`` values shown.
        splits: only figures reported on these splits (every split when empty).
        text: a paragraph under the heading.
    """

    title: str
    models: tuple[str, ...] = ()
    kind: str = "figures"
    ours: str = "same"
    metrics: tuple[str, ...] = SCORES
    splits: tuple[str, ...] = ()
    text: str = ""


@dataclass(frozen=True)
class Curves:
    """One panel of a paper's curves figure: our per-epoch history, the paper's numbers over it."""

    title: str
    metric: str  # "accuracy" | "loss"
    models: tuple[str, ...]
    table_i: bool = False  # paper 000's Table I points


@dataclass(frozen=True)
class Deviation:
    """What this project does differently from the paper, and why."""

    what: str
    why: str


@dataclass(frozen=True)
class Paper:
    """Everything a paper's page needs besides the registry and our results.

    ``figures`` are the paper's numbers the registry does not hold (namespace → figures);
    ``inputs`` are extra node inputs (argument → dataset); ``elsewhere`` lists the paper's
    figures without numbers and where our counterpart is.
    """

    number: str
    citation: str
    protocol: str
    sections: tuple[Section, ...]
    deviations: tuple[Deviation, ...]
    headline: tuple[str, str]  # (namespace, metric) shown on the index page
    curves: tuple[Curves, ...] = ()
    inputs: Mapping[str, str] = field(default_factory=dict)
    elsewhere: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """``paper_000``: the stem of its files and datasets."""
        return f"paper_{self.number}"


_HOLDOUT = Deviation(
    "Protocol `holdout`: fit on the training split, watch the validation split, evaluate the "
    "kept weights once on the test set",
    "The test set stays unseen until the final evaluation, so our test figure is an honest "
    "estimate; a paper that watched its test set chose its epoch by it.",
)

PAPER_000 = Paper(
    number="000",
    citation='N. Rana & A. Vanzara, "Image Classification on CIFAR-100 using Convolutional '
    'Neural Network", University of Windsor',
    protocol="Fitted on all 50,000 training images, with the 10,000 test images passed to "
    'fit as "validation" data every epoch; RMSprop (learning rate 1e-4, decay 1e-6), batch '
    "64, 200 epochs preset, Table I ending at epoch 172; augmentation by Keras' "
    "ImageDataGenerator.",
    sections=(
        Section(
            "Abstract and Table I at epoch 172: the figures the paper reports",
            ("rana_elu_cnn*",),
            text="The paper's figures are Table I's last row (epoch 172 of 200; the abstract's "
            "87 % is the training accuracy there). Ours: the kept weights (best epoch by the "
            "watched accuracy) evaluated once on CIFAR-100's test set; the training accuracy "
            "is the history's at that epoch.",
        ),
        Section(
            "Data: what the model was fitted on and watched",
            ("rana_elu_cnn*",),
            metrics=COUNTS,
        ),
        Section(
            "Table I: accuracy and loss over epochs",
            ("rana_elu_cnn*",),
            kind="epochs",
            text='Every cell of Table I, ours from the history at the same epoch ("not '
            'reached" beyond the epochs our run trained). The paper\'s "validation" columns '
            "are the test set it passed to fit; ours are the validation split under protocol "
            "`holdout` (`rana_elu_cnn`) and the test set under protocol `paper` "
            "(`rana_elu_cnn_paper_protocol`, `kedro run --pipeline=paper_studies`).",
        ),
    ),
    inputs={"rana_elu_cnn__table_1": "rana_elu_cnn.paper_table_1"},
    headline=("rana_elu_cnn", "accuracy"),
    curves=(
        Curves("Figs. 7a, 8a: accuracy (Table I points)", "accuracy", ("rana_elu_cnn*",), True),
        Curves("Figs. 7b, 8b: loss (Table I points)", "loss", ("rana_elu_cnn*",), True),
    ),
    elsewhere=(
        "Figs. 1–6 illustrate neural networks, CNNs and the data set: nothing to measure.",
        (
            "Figs. 7–8 (training and test curves): our histories under Table I's points in "
            "[paper_000_curves.png](paper_000_curves.png); the paper's curves carry no other "
            "numbers. Our full curves: [../rana_elu_cnn/training_curves.png]"
            "(../rana_elu_cnn/training_curves.png)."
        ),
    ),
    deviations=(
        Deviation(
            _HOLDOUT.what + " (`rana_elu_cnn`, the default run)",
            'The paper passed the test set to fit as validation data, so its "validation" '
            "figures are test-set figures watched while training. Its own protocol runs too, "
            "opt-in: `rana_elu_cnn_paper_protocol` (`kedro run --pipeline=paper_studies`).",
        ),
        Deviation(
            "`same` padding on the six convolutions (parameter `padding`; `same_valid` is the "
            "Keras cifar10_cnn example's)",
            "The paper gives none, and Keras' default `valid` shrinks 32×32 to nothing: the "
            "network as written cannot run.",
        ),
        Deviation(
            "Dropouts after pools 1 and 2 besides the one after Flatten, rates 0.25/0.25/0.5",
            "The paper places only the one after Flatten; the others follow the Keras "
            "cifar10_cnn example, whose RMSprop(1e-4, decay 1e-6) recipe the paper uses.",
        ),
        Deviation(
            "RMSprop's decay 1e-6 as an inverse-time learning-rate schedule",
            "Keras 3 optimisers have no `decay` argument; the schedule is what it applied.",
        ),
        Deviation(
            "Augmentation: random shifts of 0.1 and horizontal flips (Keras preprocessing "
            "layers); pixels x/255",
            "The paper names ImageDataGenerator, not its settings: the Keras example's values.",
        ),
        Deviation(
            "The best epoch's weights are kept (checkpoint on the watched accuracy) and "
            "evaluated once",
            "The paper reports the epochs of Table I; both are shown: Table I from the "
            "history, the headline from the kept model.",
        ),
    ),
)

PAPER_001 = Paper(
    number="001",
    citation='C. Khanna, "CIFAR-100: Object Recognition", Northeastern University',
    protocol="40,000 training / 10,000 validation images (a 0.2 split of the training set), "
    "the 10,000 test images kept for the end; Adam 1e-4, batch 64, up to 100 epochs with "
    "early stopping on the validation loss (patience 20; it stopped at epoch 49), the model "
    "of the lowest validation loss kept; on-the-fly augmentation (shear, zoom, horizontal "
    "flip, featurewise centring, width shift).",
    sections=(
        Section(
            "Conclusion: the final 9-layer model",
            ("khanna_vgg_cnn",),
            text="The paper's figures are at early stopping (epoch 49 of 100). Ours: the kept "
            "weights (lowest validation loss) on the test set; validation scores and training "
            "accuracy at that epoch.",
        ),
        Section("Section 3 and Fig. 8: the 5-layer baseline", ("khanna_baseline_cnn",)),
        Section(
            "Section 3, Figs. 3–5 and 7: learning rate and optimiser",
            ("khanna_vgg_cnn_*",),
            text="Read off the paper's curves; the text gives no split, so they are filed as "
            "validation accuracies and stand beside our best validation accuracy. Each run is "
            "the final recipe with one change (`kedro run --pipeline=paper_studies`).",
        ),
        Section(
            "Section 3: parameter counts and data split",
            ("khanna_vgg_cnn", "khanna_baseline_cnn"),
            metrics=COUNTS,
        ),
        Section(
            "Fig. 11: classification report, categories 0–9",
            ("khanna_vgg_cnn",),
            kind="class_report",
            text="Precision, recall and F1 (fractions) of the first ten classes, 100 test "
            "images each; ours from `../khanna_vgg_cnn/classification_report.csv`.",
        ),
    ),
    inputs={"khanna_vgg_cnn__class_report": "khanna_vgg_cnn.classification_report"},
    headline=("khanna_vgg_cnn", "accuracy"),
    curves=(
        Curves("Fig. 6: final model, accuracy", "accuracy", ("khanna_vgg_cnn",)),
        Curves("Fig. 9: final model, loss", "loss", ("khanna_vgg_cnn",)),
        Curves("Fig. 8: 5-layer baseline", "accuracy", ("khanna_baseline_cnn",)),
        Curves("Fig. 3: Adam, learning rate 1e-2", "accuracy", ("khanna_vgg_cnn_adam_1e_2",)),
        Curves("Fig. 4: Adam, learning rate 1e-3", "accuracy", ("khanna_vgg_cnn_adam_1e_3",)),
        Curves("Fig. 5: Adam, learning rate 1e-5", "accuracy", ("khanna_vgg_cnn_adam_1e_5",)),
        Curves("Fig. 7: RMSprop, learning rate 1e-4", "accuracy", ("khanna_vgg_cnn_rmsprop_1e_4",)),
    ),
    elsewhere=(
        "Figs. 1–2 (input shape, sample images): illustrations.",
        (
            "Fig. 10 (confusion matrix; its printed corner is Fig. 11's recall): ours in "
            "[../khanna_vgg_cnn/confusion_matrix.png](../khanna_vgg_cnn/confusion_matrix.png)."
        ),
        (
            "Fig. 12 (true and predicted labels): ours in "
            "[../khanna_vgg_cnn/prediction_grid.png](../khanna_vgg_cnn/prediction_grid.png)."
        ),
        (
            "Figs. 13–14 (top-5 predictions for new images): ours in "
            "`../khanna_vgg_cnn/new_images/` for the images dropped in `data/01_raw/new_images/`."
        ),
    ),
    deviations=(
        Deviation(
            "Dropout 0.2 on the flattened features entering the dense stack, 0.5 after each "
            "hidden dense layer",
            '"0.2 in the input layer and 0.5 in the hidden layers" is not placed; the paper\'s '
            'own reason ("lesser number of parameters") fits the dense stack. Dropout has no '
            "weights: the parameter count is the paper's either way.",
        ),
        Deviation(
            "Augmentation amounts: shear 0.2, zoom 0.2, width shift 0.1, horizontal flip",
            "The paper names the transformations, not their amounts.",
        ),
        Deviation(
            "Featurewise centring of the x/255 pixels with the training split's mean, inside "
            "the model",
            "ImageDataGenerator's `featurewise_center`, computed on the training split only "
            "and applied in the saved model (no train/serve skew).",
        ),
        Deviation(
            "The 5-layer baseline: 3×3 `same` convolutions, a 2×2 max-pool after each, no "
            "dropout, the final model's recipe",
            "The paper gives its filters, units and 643,492 parameters only; this layout "
            "reaches that count exactly.",
        ),
        Deviation(
            "The learning-rate study's figures are compared with our best validation accuracy",
            "They are read off the paper's curves (Figs. 3–5, 7); the text gives no split.",
        ),
    ),
)

PAPER_002 = Paper(
    number="002",
    citation='S. Chavez Lazo, "Convolutional Neural Network (CNN) to classify CIFAR100 images"',
    protocol="A stratified 20 % validation split of the training set (400 / 100 images per "
    "class), the test set only for the final evaluation; every model 50 epochs at most, "
    "batch 50, early stopping once the validation loss has not fallen for 3 epochs (best "
    "weights kept), x/255. Model 7 is model 6 with hyperparameters from a random search (30 "
    "candidates, 3-fold cross-validation, 20 epochs, batch 250), then a grid search.",
    sections=(
        Section(
            "Figure 2: test accuracy of models 1–7 on the 100 classes",
            ("chavez_m?",),
            text="The paper prints numbers for models 1 and 7 only (Summary); Figure 2's other "
            'bars carry none ("not given"). Model 7 comes from '
            "`kedro run --pipeline=hyperparameter_search`.",
        ),
        Section("Figure 2: models 1 and 7 on the 20 superclasses", ("chavez_m?_coarse",)),
        Section("Figure 1: data segmentation", ("chavez_m1",), metrics=COUNTS),
    ),
    headline=("chavez_m7", "accuracy"),
    elsewhere=(
        (
            "Table 1 (what each model adds): the stages M1–M6 of "
            "`src/cifar100_kedro/models/paper002_chavez.py`; M7 is M6's recipe searched."
        ),
        (
            "The per-category ranking (cupboards and roads above 80 %, animals and people below "
            "20 %): ours in `../chavez_m7/best_worst_classes.csv` (and `../chavez_m6/`)."
        ),
        (
            "Annex 1 (superclass confusion matrix): ours in "
            "[../chavez_m7/coarse_confusion_matrix.png](../chavez_m7/coarse_confusion_matrix.png)."
        ),
        "Annex 2 (training times): ours in the models table above.",
    ),
    deviations=(
        Deviation(
            "M1: `valid` padding and a 2×2 max-pool",
            "Not given; Keras' defaults, the paper's own tool.",
        ),
        Deviation(
            "M4–M6: one dropout after each hidden dense layer",
            '"A dropout rate of 20 % between each hidden layer", the usual Keras pattern; '
            "no parameters change.",
        ),
        Deviation(
            "M6: global average pooling after MobileNet, the backbone frozen, inputs not "
            "rescaled to [-1, 1]",
            "Equal to Flatten on MobileNet's 1×1 map at 32×32; the paper reuses \"all "
            'MobileNet parameters" and never mentions fine-tuning; it fed x/255.',
        ),
        Deviation(
            "Adam with Keras' defaults for every model",
            "The paper states no optimiser.",
        ),
        Deviation(
            "M7's search space: both hidden widths, the dropout, the learning rate, the "
            "optimiser and frozen vs fine-tuned MobileNet; the grid stage cross-validated "
            "(3 folds)",
            'The paper names no values, only "the hyperparameters in Figure 1", and says the '
            'grid models were "retrained"; its tools cross-validate both stages.',
        ),
        Deviation(
            "M7 on the superclasses reuses the hyperparameters found on the 100 classes",
            "The paper reports 65.6 % but does not say it searched again.",
        ),
    ),
)

PAPER_003 = Paper(
    number="003",
    citation='P. Chakraborti & B. Moore, "Classifying CIFAR-100 Images", University of '
    "Nebraska-Lincoln",
    protocol="5-fold cross-validation over the 50,000 training images (shuffled once with "
    "seed 42; 40,000 / 10,000 per fold) for Tables I and II; then the chosen model trained "
    "on 80 % and scored on the instructors' hold-out test set. Adam 1e-4, batch 50, 50 "
    "epochs, no early stopping, L2 0.001 on every layer, pixels to [0, 1].",
    sections=(
        Section(
            "Table I: 5-fold cross-validation means",
            ("chakraborti_*",),
            ours="cross_validation",
            splits=("cross_validation",),
            text="Ours from `kedro run --pipeline=cross_validation` "
            "(`../cross_validation/table_1_mean_scores.csv`), K-fold means over the official "
            'training set; "not run" until that pipeline has run.',
        ),
        Section(
            "Table II: the chosen model's row and the optimal model per row",
            kind="table_2",
            text="The printed row of Arch2-Hyp3 (p + t·s_p for the accuracy of Arch2-Hyp3 − "
            "the column's, fractions) and the paper's verdict, beside ours "
            "(`../cross_validation/table_2_confidence_bounds.csv`).",
        ),
        Section(
            "Section V: the chosen model on a held-out test set",
            (PAPER_003_CHOSEN,),
            splits=("holdout",),
            text="The paper's 44.06 % is on the instructors' hold-out set, which is not "
            "published; ours is CIFAR-100's test set.",
        ),
        Section(
            "Table I's models on CIFAR-100's test set (one training each, default run)",
            ("chakraborti_*",),
            ours="test",
            splits=("cross_validation",),
            text="The same Table I figures beside our single test-set evaluation of each model "
            "the default run trains: a different split, labelled in each row.",
        ),
    ),
    inputs={
        "cross_validation_table_1": "cross_validation_table_1_if_present",
        "cross_validation_table_2": "cross_validation_table_2_if_present",
    },
    headline=(PAPER_003_CHOSEN, "accuracy"),
    curves=(
        Curves("Fig. 2: Arch2-Hyp3, accuracy", "accuracy", (PAPER_003_CHOSEN,)),
        Curves("Fig. 2: Arch2-Hyp3, cross-entropy", "loss", (PAPER_003_CHOSEN,)),
    ),
    elsewhere=(
        (
            "Fig. 1 (per-class true-positive rates of the chosen model): ours in "
            f"[../{PAPER_003_CHOSEN}/confusion_matrix.png](../{PAPER_003_CHOSEN}/confusion_matrix.png)."
        ),
        (
            "The autoencoder (Section III-C) has no figure of its own; its reconstructions are in "
            "`../autoencoder/`."
        ),
    ),
    deviations=(
        Deviation(
            _HOLDOUT.what + " (the default run); the paper's K-fold comparison is "
            "`kedro run --pipeline=cross_validation`",
            "One training per model fits the default run; the K-fold comparison trains each "
            "model K times.",
        ),
        Deviation(
            "Dropout 0.8 built as written",
            "It may be TF1's `keep_prob` (i.e. 0.2); the paper's number is kept.",
        ),
        Deviation(
            "Keras `L2(0.001)`, twice TF1's `l2_regularizer(0.001)`; LeakyReLU slope 0.2",
            "The paper's number is kept; 0.2 is TF1's `leaky_relu` default.",
        ),
        Deviation(
            "`same` padding",
            "Arch2 shrinks to nothing with `valid`.",
        ),
        Deviation(
            "Table II from equation (3) (p + t·s_p)",
            "The printed table equals the differences of the Table I means (no t·s_p term); "
            "the method the paper states is kept.",
        ),
        Deviation(
            "The autoencoder is pre-trained on the training split's images, not ImageNet; its "
            "tower pools use strides (1, 2) and the code is reshaped to 8×8×8",
            "ImageNet cannot be downloaded here; as written the tower's branches cannot be "
            "concatenated nor the code feed a transposed convolution.",
        ),
    ),
)

PAPER_004 = Paper(
    number="004",
    citation='P. E. Corsino, D. E. Lacsao & K. Yee, "Deep Learning Technical Report" (2024)',
    protocol="The five fish classes only (2,500 training / 500 test images) resized to "
    "224×224; a frozen ImageNet VGG16 with a Dense 512 → Dropout 0.5 head; Adam (Keras "
    "defaults), ReduceLROnPlateau(factor 0.5, patience 3), 20 epochs, the test set passed to "
    "fit as validation data.",
    sections=(
        Section(
            "Challenges and Solution, Results: the accuracy range and the overfitting epoch",
            ("fish_subset",),
            metrics=(*SCORES, "overfitting_epoch"),
            text='The paper gives a range ("fluctuates between 68 % to 76 %"), not one number: '
            "both ends stand beside ours; and the epoch after which its validation loss "
            "stagnates, beside the epoch of our lowest watched loss. "
            "`kedro run --pipeline=fish_subset` trains it.",
        ),
        Section("Appendix: data", ("fish_subset",), metrics=COUNTS),
    ),
    headline=("fish_subset", "accuracy"),
    curves=(
        Curves("Figure 1: training and validation loss", "loss", ("fish_subset",)),
        Curves("Accuracy (the paper's range as lines)", "accuracy", ("fish_subset",)),
    ),
    elsewhere=(
        (
            "The appendix's confusion matrix and grid of 36 predictions: ours in "
            "[../fish_subset/confusion_matrix.png](../fish_subset/confusion_matrix.png) and "
            "[../fish_subset/prediction_grid.png](../fish_subset/prediction_grid.png)."
        ),
    ),
    deviations=(
        Deviation(
            "By default (`fish_subset.protocol: holdout`) validation on a stratified 20 % split "
            "of the subset's training images, not the test set (2,000 images fitted on instead "
            "of 2,500); `--params fish_subset.protocol=paper` runs the paper's",
            "The paper's ReduceLROnPlateau and loss curves watched the test set; ours leave it "
            "for the final evaluation.",
        ),
        Deviation(
            "The bilinear resize to 224 runs on the graph (a Keras `Resizing` layer); VGG16's "
            "features are computed once per image and only the head trains",
            "The same operation and the same model without a 224×224 copy of the data set in "
            "memory (about 3 GB); 12× faster in the measured run.",
        ),
        Deviation(
            "Batch 32 and seeds for the head and the shuffling",
            "Not stated: 32 is the Keras `fit` default the appendix relies on; seeds make runs "
            "repeatable.",
        ),
    ),
)

PAPERS: dict[str, Paper] = {
    p.number: p for p in (PAPER_000, PAPER_001, PAPER_002, PAPER_003, PAPER_004)
}


# ------------------------------------------------------------------ the registry, as plain data
def _command(arch: Architecture) -> str:
    """The command that trains and evaluates ``arch``."""
    if arch.pipeline == "training":
        return "kedro run" if arch.default_run else "kedro run --pipeline=paper_studies"
    return f"kedro run --pipeline={arch.pipeline}"


def paper_registry(archs: Iterable[Architecture], number: str) -> dict[str, dict[str, Any]]:
    """``namespace → {reported, label_mode, protocol, command}`` of paper ``number``'s
    classifiers, in registry order (plain, picklable data bound to the nodes)."""
    return {
        a.namespace: {
            "reported": tuple(a.reported),
            "label_mode": a.label_mode,
            "protocol": getattr(a, "protocol", "holdout"),
            "command": _command(a),
        }
        for a in archs
        if a.paper.startswith(number) and a.task == "classification"
    }


def paper_inputs(
    paper: Paper, registry: Mapping[str, Any], evaluated: Collection[str]
) -> dict[str, str]:
    """The tables node's inputs, argument → dataset: each namespace's metrics, history and
    training summary (``<ns>.*_if_present`` where the reporting run does not evaluate it),
    then the paper's extra inputs."""
    inputs = {}
    for ns in registry:
        suffix = "" if ns in evaluated else "_if_present"
        for argument, dataset in (("metrics", "metrics"), ("history", "history")):
            inputs[f"{ns}__{argument}"] = f"{ns}.{dataset}{suffix}"
        inputs[f"{ns}__summary"] = f"{ns}.training_summary{suffix}"
    inputs.update(paper.inputs)
    return inputs


# ------------------------------------------------------------------ our numbers
def _missing(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    if isinstance(value, str):
        return not value.strip()
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def _number(value: Any) -> float:
    return math.nan if _missing(value) else float(value)


def _results(inputs: Mapping[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """``<ns>__<kind>`` arguments grouped by namespace; the others as they are."""
    results: dict[str, dict[str, Any]] = {}
    extras = {}
    for argument, data in inputs.items():
        if "__" in argument:
            ns, kind = argument.rsplit("__", 1)
            results.setdefault(ns, {})[kind] = data
        else:
            extras[argument] = data
    return results, extras


def _ran(result: Mapping[str, Any]) -> bool:
    return any(result.get(k) is not None for k in ("metrics", "summary", "history"))


def _get(result: Mapping[str, Any], key: str) -> Any:
    """``key`` from the metrics, else from the training summary."""
    for source in (result.get("metrics"), result.get("summary")):
        if source and not _missing(source.get(key)):
            return source[key]
    return None


def _protocol(result: Mapping[str, Any]) -> str:
    return str(_get(result, "protocol") or "holdout") if _ran(result) else ""


def _watched(protocol: str) -> str:
    """What our history's ``val_*`` columns are under ``protocol``."""
    return "test set (watched)" if protocol == "paper" else "validation split"


def _run_columns(result: Mapping[str, Any]) -> dict[str, Any]:
    """Protocol, epochs run (of requested) and trainable parameters of one run."""
    run, requested = _get(result, "epochs_run"), _get(result, "epochs_requested")
    epochs = "" if run is None else str(int(run))
    if run is not None and requested is not None:
        epochs += f" of {int(requested)}"
    return {
        "protocol": _protocol(result),
        "epochs_run": epochs,
        "parameters": _number(_get(result, "trainable_params")),
    }


def _history_at(history: pd.DataFrame | None, epoch: Any, column: str) -> float:
    """``column`` of the history at ``epoch`` (the last epoch when ``epoch`` is unknown)."""
    if history is None or column not in history or not len(history):
        return math.nan
    if _missing(epoch) or "epoch" not in history:
        return _number(history[column].iloc[-1])
    rows = history[history["epoch"] == int(epoch)]
    return _number(rows[column].iloc[0]) if len(rows) else math.nan


def _cross_validated(metric: str, cv_row: Mapping[str, Any] | None) -> tuple[float, str, str]:
    if cv_row is None:
        return math.nan, "", NOT_RUN
    key = {"accuracy": "mean_accuracy_percent", "loss": "mean_loss"}.get(metric, "")
    folds = cv_row.get("folds")
    split = f"{int(folds)}-fold cross-validation" if not _missing(folds) else "cross-validation"
    return _with_status(_number(cv_row.get(key)), split)


def _with_status(value: float, split: str) -> tuple[float, str, str]:
    return value, split, "not measured" if _missing(value) else "measured"


def _count(metric: str, result: Mapping[str, Any]) -> tuple[float, str, str]:
    summary = result.get("summary") or {}
    if metric == "trainable_params":
        return _with_status(_number(_get(result, metric)), "")
    if metric == "train_images":
        return _with_status(_number(summary.get("train_images")), "training")
    if metric == "validation_images":
        return _with_status(_number(summary.get("validation_images")), _watched(_protocol(result)))
    return _with_status(_number(_get(result, "test_samples")), "test")


def _lowest_watched_loss(result: Mapping[str, Any]) -> tuple[float, str, str]:
    """The epoch of the lowest ``val_loss``: where the watched loss stops falling."""
    history = result.get("history")
    split = _watched(_protocol(result)) + ", lowest loss"
    if history is None or "val_loss" not in history or history["val_loss"].isna().all():
        return math.nan, split, "not measured"
    return float(history.loc[history["val_loss"].idxmin(), "epoch"]), split, "measured"


def our_value(
    metric: str,
    split: str,
    result: Mapping[str, Any],
    ours: str = "same",
    cv_row: Mapping[str, Any] | None = None,
) -> tuple[float, str, str]:
    """Our number for a paper's figure: ``(value, our split, status)``.

    Args:
        metric: the figure's metric (:data:`SCORES`, :data:`COUNTS`); accuracies in %.
        split: the split the paper reported it on.
        result: ``{"metrics", "history", "summary"}`` of one namespace (each may be ``None``).
        ours: ``same`` (our value on the nearest split: test for test and hold-out figures,
            the watched split at the best epoch for validation figures, the history at the
            best epoch for training figures), ``test`` or ``cross_validation``.
        cv_row: the namespace's row of the cross_validation pipeline's Table I, if any.

    Returns:
        ``value`` (NaN when missing), our split in words, and ``status``: ``measured``,
        ``not run`` (no result of that model yet) or ``not measured`` (ours has no such number).
    """
    if ours == "cross_validation" or (ours == "same" and split == "cross_validation"):
        return _cross_validated(metric, cv_row)
    if not _ran(result):
        return math.nan, "", NOT_RUN
    if metric in COUNTS:
        return _count(metric, result)
    if metric == "overfitting_epoch":
        return _lowest_watched_loss(result)
    metrics = result.get("metrics") or {}
    best = _get(result, "best_epoch")
    scale = 100.0 if metric in PERCENT else 1.0
    if ours == "same" and (metric == "training_accuracy" or split == "training"):
        column = "loss" if metric == "loss" else "accuracy"
        value = _history_at(result.get("history"), best, column) * scale
        return _with_status(value, f"training, epoch {best}" if best else "training")
    if ours == "same" and split == "validation":
        key = "best_val_loss" if metric == "loss" else "best_val_accuracy"
        watched = _watched(_protocol(result)) + (f", epoch {best}" if best else "")
        return _with_status(_number(metrics.get(key)) * scale, watched)
    coarse = metrics.get("label_mode") == "coarse"
    key = {"loss": "coarse_loss" if coarse else "loss", "training_accuracy": "accuracy"}
    return _with_status(_number(metrics.get(key.get(metric, metric))) * scale, "test")


# ------------------------------------------------------------------ the rows of a paper's tables
TABLE_COLUMNS = [
    "section", "kind", "model", "metric", "figure", "source", "paper", "paper_text", "ours",
    "ours_text", "difference", "paper_split", "our_split", "status", "protocol", "epochs_run",
    "parameters", "note",
]  # fmt: skip
MODEL_COLUMNS = [
    "model", "status", "command", "protocol", "label_mode", "epochs_run", "epochs_requested",
    "best_epoch", "trainable_params", "total_params", "train_images", "validation_images",
    "test_images", "training_minutes", "test_accuracy",
]  # fmt: skip
LABELS = {
    "accuracy": "accuracy (%)",
    "coarse_accuracy": "superclass accuracy (%)",
    "training_accuracy": "training accuracy (%)",
    "loss": "loss (cross-entropy)",
    "trainable_params": "trainable parameters",
    "train_images": "images fitted on",
    "validation_images": "images watched each epoch",
    "test_images": "test images",
    "overfitting_epoch": "epoch the validation loss stops falling",
}
EPOCH_LABELS = {
    "accuracy": "training accuracy (%)",
    "val_accuracy": '"validation" accuracy (%)',
    "loss": "training loss",
    "val_loss": '"validation" loss',
}


def _row(section: Section, model: str, **values: Any) -> dict[str, Any]:
    row = dict.fromkeys(TABLE_COLUMNS, "")
    row.update(section=section.title, kind=section.kind, model=model, paper=math.nan)
    row.update(ours=math.nan, difference=math.nan, parameters=math.nan)
    row.update(values)
    if not _missing(row["ours"]):
        row["ours"] = round(float(row["ours"]), 6)  # no 55.00000000000001 in the CSV
    if not _missing(row["paper"]) and not _missing(row["ours"]):
        row["difference"] = round(row["ours"] - float(row["paper"]), 6)
    return row


def _matching(patterns: Sequence[str], registry: Mapping[str, Any]) -> list[str]:
    return [ns for ns in registry if any(fnmatch.fnmatchcase(ns, p) for p in patterns)]


def _figures_of(section: Section, paper: Paper, ns: str, entry: Mapping[str, Any]):
    figures = [
        f
        for f in entry.get("reported", ())
        if f.metric in section.metrics and (not section.splits or f.split in section.splits)
    ]
    if not figures and section.metrics == SCORES and not section.splits:
        # A model the paper shows without printing its number (paper 002's M2-M6).
        metric = "coarse_accuracy" if entry.get("label_mode") == "coarse" else "accuracy"
        figures = [ReportedFigure(metric, math.nan, "test", "")]
    return figures


def _figure_rows(section, paper, registry, results, extras) -> list[dict[str, Any]]:
    table_1 = extras.get("cross_validation_table_1")
    cv = {} if table_1 is None else {r["model"]: r for r in table_1.to_dict("records")}
    rows = []
    for ns in _matching(section.models, registry):
        result = results.get(ns, {})
        for f in _figures_of(section, paper, ns, registry[ns]):
            value, split, status = our_value(f.metric, f.split, result, section.ours, cv.get(ns))
            run = _run_columns(result)
            if section.ours == "cross_validation" or split.endswith("cross-validation"):
                run.update(protocol="cross-validation" if status != NOT_RUN else "", epochs_run="")
            rows.append(
                _row(
                    section,
                    ns,
                    metric=f.metric,
                    figure=LABELS.get(f.metric, f.metric),
                    source=f.source,
                    paper=_number(f.value),
                    ours=value,
                    status=status,
                    paper_split=f.split,
                    our_split=split,
                    note=f.note,
                    **run,
                )
            )
    return rows


def _not_run(section: Section, ns: str, what: str, result=None) -> dict[str, Any]:
    return _row(section, ns, figure=what, status=NOT_RUN, **_run_columns(result or {}))


def _epoch_rows(section, paper, registry, results, extras) -> list[dict[str, Any]]:
    rows = []
    for ns in _matching(section.models, registry):
        result = results.get(ns, {})
        table, history = result.get("table_1"), result.get("history")
        if table is None and history is not None:
            table = epoch_table(history, PAPER_000_TABLE_I, percent=("accuracy", "val_accuracy"))
        if table is None:
            rows.append(_not_run(section, ns, "every cell of Table I"))
            continue
        run = _run_columns(result)
        reached = len(history) if history is not None else _number(_get(result, "epochs_run"))
        watched = _watched(run["protocol"])
        for record in table.to_dict("records"):
            epoch = int(record["epoch"])
            for metric in ("accuracy", "val_accuracy", "loss", "val_loss"):
                ours = _number(record.get(f"{metric} (ours)"))
                late = _missing(reached) or epoch > reached
                status = "not reached" if _missing(ours) and late else ""
                rows.append(
                    _row(
                        section,
                        ns,
                        metric=metric,
                        figure=f"epoch {epoch}: {EPOCH_LABELS[metric]}",
                        source="Table I",
                        paper=_number(record.get(f"{metric} (paper)")),
                        ours=ours,
                        status=status or _with_status(ours, "")[2],
                        paper_split="test" if metric.startswith("val_") else "training",
                        our_split=watched if metric.startswith("val_") else "training",
                        **run,
                    )
                )
    return rows


def _optimal_summary(optimal: Iterable[str]) -> str:
    """``Arch2-Hyp3 in 8 of 8 rows`` for the most frequent optimal model."""
    names = [PAPER_003_NAMES.get(o, o) for o in optimal if isinstance(o, str)]
    if not names:
        return ""
    best = max(dict.fromkeys(names), key=names.count)
    return f"{best} in {names.count(best)} of {len(names)} rows"


def _table_2_rows(section, paper, registry, results, extras) -> list[dict[str, Any]]:
    table_2 = extras.get("cross_validation_table_2")
    chosen = PAPER_003_NAMES[PAPER_003_CHOSEN]
    ours = None
    if table_2 is not None and PAPER_003_CHOSEN in set(table_2["model"]):
        ours = table_2.set_index("model").loc[PAPER_003_CHOSEN]
    rows = []
    for ns, printed in PAPER_003_TABLE_II_CHOSEN_ROW.items():
        value = math.nan if ours is None else _number(ours.get(ns))
        status = NOT_RUN if table_2 is None else _with_status(value, "")[2]
        rows.append(
            _row(
                section,
                PAPER_003_CHOSEN,
                metric="bound",
                source="Table II",
                figure=f"{chosen} − {PAPER_003_NAMES[ns]}: p + t·s_p",
                paper=printed,
                ours=value,
                status=status,
                paper_split="cross_validation",
                our_split="" if table_2 is None else "K-fold cross-validation",
                protocol="" if table_2 is None else "cross-validation",
            )
        )
    verdict = "" if table_2 is None else _optimal_summary(table_2.get("optimal_model", []))
    rows.append(
        _row(
            section,
            PAPER_003_CHOSEN,
            metric="optimal_model",
            source="Table II, Section V",
            figure="optimal model (smallest entry of each row)",
            paper_text=f"{chosen} in 8 of 8 rows",
            ours_text=verdict,
            status=NOT_RUN if table_2 is None else ("measured" if verdict else "not measured"),
            paper_split="cross_validation",
            our_split="" if table_2 is None else "K-fold cross-validation",
        )
    )
    return rows


def _class_report_rows(section, paper, registry, results, extras) -> list[dict[str, Any]]:
    rows = []
    for ns in _matching(section.models, registry):
        report = results.get(ns, {}).get("class_report")
        if report is None:
            rows.append(_not_run(section, ns, "Fig. 11"))
            continue
        records = report.to_dict("records")
        by_index = {int(r["class_index"]): r for r in records if not _missing(r["class_index"])}
        run = _run_columns(results.get(ns, {}))
        for index, printed in enumerate(PAPER_001_FIGURE_11.values()):
            ours = by_index.get(index, {})
            name = ours.get("class", f"category {index}")
            for metric, value in zip(("precision", "recall", "f1-score"), printed):
                mine = _number(ours.get(metric))
                rows.append(
                    _row(
                        section,
                        ns,
                        metric=metric,
                        figure=f"category {index} ({name}): {metric}",
                        source="Fig. 11",
                        paper=value,
                        ours=mine,
                        status=_with_status(mine, "")[2],
                        paper_split="test",
                        our_split="test",
                        **run,
                    )
                )
    return rows


_SECTION_ROWS = {
    "figures": _figure_rows,
    "epochs": _epoch_rows,
    "table_2": _table_2_rows,
    "class_report": _class_report_rows,
}


def _model_row(ns: str, entry: Mapping[str, Any], result: Mapping[str, Any]) -> dict[str, Any]:
    summary = result.get("summary") or {}
    seconds = _number(_get(result, "training_seconds"))
    coarse = entry.get("label_mode") == "coarse"
    accuracy = _number(
        (result.get("metrics") or {}).get("coarse_accuracy" if coarse else "accuracy")
    )
    return {
        "model": ns,
        "status": "run" if _ran(result) else NOT_RUN,
        "command": entry.get("command", ""),
        "protocol": _protocol(result) or entry.get("protocol", "holdout"),
        "label_mode": entry.get("label_mode", "fine"),
        **{k: _number(_get(result, k)) for k in ("epochs_run", "epochs_requested", "best_epoch")},
        **{k: _number(_get(result, k)) for k in ("trainable_params", "total_params")},
        "train_images": _number(summary.get("train_images")),
        "validation_images": _number(summary.get("validation_images")),
        "test_images": _number(_get(result, "test_samples")),
        "training_minutes": seconds / 60.0,
        "test_accuracy": accuracy * 100.0,
    }


def paper_tables(
    paper: Paper, registry: Mapping[str, Mapping[str, Any]], **inputs: Any
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A paper's tables with our numbers beside its own: the rows of its page.

    Args:
        paper: the paper's data (:data:`PAPERS`).
        registry: :func:`paper_registry` of the paper.
        **inputs: ``<ns>__metrics``, ``<ns>__history``, ``<ns>__summary`` per namespace
            (``None`` for a model whose pipeline has not run) and the paper's extra inputs.

    Returns:
        ``(figures, models)``: one row per number of the paper (:data:`TABLE_COLUMNS`;
        ``difference`` = ours − paper, ``status`` says why ours is missing), and one row per
        model of the paper with its run (:data:`MODEL_COLUMNS`).
    """
    results, extras = _results(inputs)
    rows = []
    for section in paper.sections:
        rows += _SECTION_ROWS[section.kind](section, paper, registry, results, extras)
    models = [_model_row(ns, entry, results.get(ns, {})) for ns, entry in registry.items()]
    return (
        pd.DataFrame(rows, columns=TABLE_COLUMNS),
        pd.DataFrame(models, columns=MODEL_COLUMNS),
    )


def epoch_table(
    history: pd.DataFrame, paper: Mapping[str, Sequence[float]], percent: Sequence[str]
) -> pd.DataFrame:
    """The paper's per-epoch table beside ours: one row per epoch the paper lists.

    Args:
        history: our per-epoch history (``epoch`` 1-based, Keras metric columns).
        paper: ``{"epoch": [...], "<metric>": [...], ...}``, the paper's values.
        percent: the metrics the paper gives in % (ours are fractions in the history).

    Returns:
        Columns ``epoch``, then per metric ``<metric> (paper)``, ``<metric> (ours)``,
        ``<metric> (ours − paper)``; our cells are empty for epochs this run did not reach.
    """
    ours = history.set_index("epoch") if len(history) else pd.DataFrame()
    table = pd.DataFrame({"epoch": list(paper["epoch"])})
    for metric, values in paper.items():
        if metric == "epoch":
            continue
        scale = 100.0 if metric in percent else 1.0
        measured = [
            float(ours.at[e, metric]) * scale if metric in ours and e in ours.index else np.nan
            for e in table["epoch"]
        ]
        table[f"{metric} (paper)"] = list(values)
        table[f"{metric} (ours)"] = np.round(measured, 4)
        table[f"{metric} (ours − paper)"] = np.round(np.asarray(measured) - np.asarray(values), 4)
    return table


# ------------------------------------------------------------------ Markdown
SPLIT_NAMES = {
    "test": "test",
    "validation": "validation",
    "training": "training",
    "cross_validation": "5-fold CV (training set)",
    "holdout": "instructors' hold-out set",
}


def _split_name(split: Any) -> str:
    return SPLIT_NAMES.get(split, _text(split)) if isinstance(split, str) else MISSING


def _decimals(metric: str) -> int:
    if metric == "bound":
        return 4
    if "loss" in metric or metric in ("precision", "recall", "f1-score"):
        return 3
    return 2


def format_value(value: Any, metric: str) -> str:
    """Our number as a table cell: counts with thousands separators, "–" when missing."""
    if _missing(value):
        return MISSING
    if metric in INTEGERS:
        return f"{round(float(value)):,}"
    return f"{float(value):.{_decimals(metric)}f}"


def format_paper(value: Any, metric: str) -> str:
    """The paper's number as printed (at least two decimals), "not given" when missing."""
    if _missing(value):
        return "not given"
    if metric in INTEGERS:
        return f"{round(float(value)):,}"
    text = np.format_float_positional(float(value), trim="-")
    decimals = len(text.split(".")[1]) if "." in text else 0
    return f"{float(value):.{max(2, decimals)}f}"


def format_difference(value: Any, metric: str) -> str:
    """Ours − paper with its sign; "–" when either is missing."""
    if _missing(value):
        return MISSING
    if metric in INTEGERS:
        return f"{round(float(value)):+,}"
    digits = _decimals(metric)
    value = 0.0 if abs(float(value)) < 0.5 * 10**-digits else float(value)
    return f"{value:+.{digits}f}"


def _text(value: Any) -> str:
    return MISSING if _missing(value) else str(value).replace("|", "\\|").replace("\n", " ")


def _ours_cell(row: Mapping[str, Any]) -> str:
    if not _missing(row.get("ours_text")):
        return _text(row["ours_text"])
    if row.get("status") in (NOT_RUN, "not reached"):
        return row["status"]
    return format_value(row.get("ours"), row.get("metric", ""))


def _split_cell(row: Mapping[str, Any]) -> str:
    if row.get("metric") == "trainable_params":
        return MISSING
    return f"{_split_name(row.get('paper_split'))} vs {_text(row.get('our_split'))}"


def _figure_cell(row: Mapping[str, Any]) -> str:
    source = row.get("source")
    return _text(row.get("figure")) + ("" if _missing(source) else f" · {_text(source)}")


_TABLE_HEADER = (
    "| figure | model | paper | ours | difference (ours − paper) | split (paper's vs ours) "
    "| protocol | epochs run | parameters |"
)


def _section_lines(section: Section, rows: pd.DataFrame) -> list[str]:
    lines = [f"## {section.title}", ""]
    if section.text:
        lines += [section.text, ""]
    if rows.empty:
        return lines + ["No model of the registry belongs here.", ""]
    lines += [_TABLE_HEADER, "|---|---|---:|---:|---:|---|---|---:|---:|"]
    for row in rows.to_dict("records"):
        metric = row.get("metric", "")
        paper = _text(row["paper_text"]) if not _missing(row.get("paper_text")) else None
        cells = [
            _figure_cell(row),
            f"`{row['model']}`",
            paper or format_paper(row.get("paper"), metric),
            _ours_cell(row),
            format_difference(row.get("difference"), metric),
            _split_cell(row),
            _text(row.get("protocol")),
            _text(row.get("epochs_run")),
            format_value(row.get("parameters"), "trainable_params"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    notes = {
        (r["model"], r["source"], r["note"])
        for r in rows.to_dict("records")
        if not _missing(r.get("note"))
    }
    if notes:
        lines += ["", "Notes on the paper's figures:", ""]
        lines += [f"- `{m}`, {_text(s)}: {_text(n)}" for m, s, n in sorted(notes, key=str)]
    return lines + [""]


_PARAMS = ("trainable_params", "total_params")


def _models_lines(models: pd.DataFrame) -> list[str]:
    lines = [
        "## Models and runs",
        "",
        (
            "| model | status | protocol | epochs run (of requested) | best epoch | trainable / "
            "total parameters | images fitted / watched / test | training time (min) "
            "| test accuracy (%) |"
        ),
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for m in models.to_dict("records"):
        ran = m.get("status") == "run"
        status = "run" if ran else f"not run: `{_text(m.get('command'))}`"
        epochs = format_value(m.get("epochs_run"), "train_images")
        if ran and not _missing(m.get("epochs_requested")):
            epochs += f" of {format_value(m['epochs_requested'], 'train_images')}"
        params = " / ".join(format_value(m.get(k), "trainable_params") for k in _PARAMS)
        images = " / ".join(format_value(m.get(k), "train_images") for k in COUNTS[1:])
        accuracy = format_value(m.get("test_accuracy"), "accuracy")
        if m.get("label_mode") == "coarse" and accuracy != MISSING:
            accuracy += " (superclasses)"
        cells = [
            f"`{m['model']}`",
            status,
            _text(m.get("protocol")),
            epochs,
            format_value(m.get("best_epoch"), "train_images"),
            params,
            images,
            format_value(m.get("training_minutes"), "accuracy"),
            accuracy,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


LEGEND = (
    "The paper's numbers are its own (reported, not measured here); ours are this project's "
    "latest results of each model (`data/08_reporting/<model>/metrics.json`, the training "
    "histories). Accuracies in %, differences in percentage points. *protocol*: `holdout` = "
    "fitted on the training split, the validation split watched each epoch, the test set "
    "untouched until the final evaluation; `paper` = the paper's own use of the data (paper "
    "000: all 50,000 training images, the test set watched each epoch); `cross-validation` = "
    "K-fold means. – : no value; *not run*: the model's pipeline has not run yet (the "
    "command is in the models table); *not reached*: our run stopped before that epoch."
)


def paper_page(figures: pd.DataFrame, models: pd.DataFrame, paper: Paper) -> str:
    """A paper's reproduction report as Markdown.

    Args:
        figures: :func:`paper_tables`' first table (in memory or read back from its CSV).
        models: its second.
        paper: the paper's data.

    Returns:
        The page: the paper's protocol, our runs, one table per table or figure of the paper,
        the figures (PNG) and the documented deviations. Never ``nan``.
    """
    lines = [
        f"# Paper {paper.number}: reproduction report",
        "",
        f"{paper.citation}. [All papers](index.md)",
        "",
        LEGEND,
        "",
        (
            "Regenerate from the results on disk: "
            "`kedro run --pipeline=reporting --tags=reproduction`."
        ),
        "",
        f"**The paper's protocol.** {paper.protocol}",
        "",
        *_models_lines(models),
    ]
    for section in paper.sections:
        lines += _section_lines(section, figures[figures["section"] == section.title])
    lines += ["## Figures", ""]
    lines += [f"![The paper's accuracies beside ours]({paper.key}_accuracy.png)", ""]
    if paper.curves:
        lines += [f"![Our training curves under the paper's numbers]({paper.key}_curves.png)", ""]
    lines += [f"- {item}" for item in paper.elsewhere] + [""]
    lines += ["## Deviations", "", "| what we do differently | why |", "|---|---|"]
    lines += [f"| {_text(d.what)} | {_text(d.why)} |" for d in paper.deviations]
    return "\n".join(lines + [""])


def _headline(paper: Paper, figures: pd.DataFrame) -> dict[str, Any] | None:
    ns, metric = paper.headline
    rows = figures[(figures["model"] == ns) & (figures["metric"] == metric)]
    rows = rows[rows["kind"] == "figures"]
    return rows.to_dict("records")[0] if len(rows) else None


def index_page(papers: Mapping[str, Paper], **tables: pd.DataFrame) -> str:
    """The index of the reproduction reports.

    Args:
        papers: :data:`PAPERS`.
        **tables: ``paper_00N_table`` and ``paper_00N_models`` of every paper.

    Returns:
        Markdown: one row per paper with its page, its models run, how many of its numbers
        we have measured, and its headline figure beside ours.
    """
    lines = [
        "# Reproductions of the five papers",
        "",
        (
            "One page per paper: each of its tables and figures with the paper's number beside "
            "ours, the protocol, epochs and parameters of our runs, and the deviations with their "
            "reasons. Regenerate all five from the results on disk with "
            "`kedro run --pipeline=reporting --tags=reproduction`."
        ),
        "",
        (
            "| paper | report | models run | numbers measured | headline | paper | ours | "
            "difference | split (paper's vs ours) |"
        ),
        "|---|---|---:|---:|---|---:|---:|---:|---|",
    ]
    for paper in papers.values():
        figures = tables[f"{paper.key}_table"]
        models = tables[f"{paper.key}_models"]
        run = int((models["status"] == "run").sum())
        given = figures["paper"].map(lambda v: not _missing(v))
        numbered = figures[given | figures["paper_text"].map(lambda v: not _missing(v))]
        measured = int((numbered["status"] == "measured").sum())
        head = _headline(paper, figures)
        authors = paper.citation.split(', "')[0]  # the citation up to its quoted title
        cells = [
            f"{paper.number} {_text(authors)}",
            f"[{paper.key}.md]({paper.key}.md)",
            f"{run} of {len(models)}",
            f"{measured} of {len(numbered)}",
        ]
        if head is None:
            cells += [MISSING] * 5
        else:
            metric = head["metric"]
            cells += [
                f"`{head['model']}` {_figure_cell(head)}",
                format_paper(head["paper"], metric),
                _ours_cell(head),
                format_difference(head["difference"], metric),
                _split_cell(head),
            ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        (
            "`resnet9_fast` is the project's own model, from no paper: see `docs/resnet9_fast.md` "
            "and the comparison (`../comparison/model_comparison.md`)."
        ),
        "",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------ figures
PAPER_COLOUR, OURS_COLOUR = "#b8b8b8", "#4c72b0"


def _paired_bars(ax, rows: pd.DataFrame, title: str) -> None:
    y = np.arange(len(rows))
    paper = rows["paper"].to_numpy(float)
    ours = rows["ours"].to_numpy(float)
    ax.barh(
        y - 0.2,
        np.nan_to_num(paper),
        0.38,
        color=PAPER_COLOUR,
        hatch="//",
        edgecolor="#707070",
        label="paper (reported)",
    )
    ax.barh(y + 0.2, np.nan_to_num(ours), 0.38, color=OURS_COLOUR, label="ours (measured)")
    for i, row in enumerate(rows.to_dict("records")):
        p_text = format_paper(paper[i], "accuracy") if np.isfinite(paper[i]) else "not given"
        o_text = format_value(ours[i], "accuracy")
        if not np.isfinite(ours[i]):
            o_text = row["status"] if row["status"] in (NOT_RUN, "not reached") else MISSING
        for offset, value, text in ((-0.2, paper[i], p_text), (0.2, ours[i], o_text)):
            x = value if np.isfinite(value) else 0.0
            style = "normal" if np.isfinite(value) else "italic"
            ax.text(x + 0.8, y[i] + offset, text, va="center", fontsize=8, style=style)
        split = f"paper: {_split_name(row['paper_split'])}"
        ours_split = NOT_RUN if row["status"] == NOT_RUN else _text(row["our_split"])
        split += f"\nours: {ours_split}"
        ax.text(1.01, y[i], split, transform=ax.get_yaxis_transform(), va="center", fontsize=7.5)
    labels = [f"{r['model']}\n{_figure_cell(r)}" for r in rows.to_dict("records")]
    ax.set_yticks(y, labels=labels, fontsize=8)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlim(0, 105)
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title, loc="left", fontsize=10, fontweight="bold")


def plot_paper_figures(figures: pd.DataFrame, paper: Paper) -> Figure:
    """The paper's accuracies beside ours as paired bars, one panel per table or figure of the
    paper, each bar pair labelled with the split of each (losses and counts are in the page).
    """
    rows = figures[(figures["kind"] == "figures") & figures["metric"].isin(PERCENT)]
    titles = [s.title for s in paper.sections if (rows["section"] == s.title).any()]
    counts = [int((rows["section"] == t).sum()) for t in titles]
    height = 1.6 + sum(0.62 * c + 0.7 for c in counts)
    fig = Figure(figsize=(13, max(3.5, height)), dpi=100, layout="constrained")
    fig.suptitle(f"Paper {paper.number}: the paper's accuracies (%) beside ours", fontsize=12)
    if not titles:
        fig.text(0.5, 0.5, "the paper reports no accuracy for a registered model", ha="center")
        return fig
    axes = fig.subplots(len(titles), 1, squeeze=False, height_ratios=[c + 0.8 for c in counts])
    for ax, title in zip(axes[:, 0], titles):
        _paired_bars(ax, rows[rows["section"] == title], title)
    axes[-1, 0].set_xlabel("accuracy (%)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=9)
    return fig


_REFERENCE_STYLES = (
    ("black", ":"),
    ("#8c564b", "--"),
    ("#7f7f7f", "-."),
    ("#9467bd", (0, (1, 3))),
)


def _reference_lines(ax, rows: pd.DataFrame) -> None:
    """The paper's figures as horizontal lines, each named in the legend (values can be close)."""
    for i, row in enumerate(rows.to_dict("records")):
        colour, style = _REFERENCE_STYLES[i % len(_REFERENCE_STYLES)]
        value = format_paper(row["paper"], row["metric"])
        label = f"paper {value} ({_split_name(row['paper_split'])}, {_text(row['source'])})"
        ax.axhline(row["paper"], color=colour, linestyle=style, linewidth=1.2, label=label)


def _table_i_points(ax, metric: str) -> None:
    epochs = PAPER_000_TABLE_I["epoch"]
    ax.scatter(
        epochs,
        PAPER_000_TABLE_I[metric],
        marker="D",
        color="black",
        zorder=3,
        label="paper, Table I: training",
    )
    ax.scatter(
        epochs,
        PAPER_000_TABLE_I[f"val_{metric}"],
        marker="D",
        facecolors="white",
        edgecolors="black",
        zorder=3,
        label='paper, Table I: "validation" (test)',
    )


def _curve_panel(ax, panel: Curves, figures: pd.DataFrame, registry, histories) -> None:
    scale = 100.0 if panel.metric == "accuracy" else 1.0
    colours = ("#4c72b0", "#dd8452", "#55a868", "#c44e52")
    missing, last = [], 1.0
    for i, ns in enumerate(_matching(panel.models, registry) or panel.models):
        history = histories.get(f"{ns}__history")
        if history is None or not len(history) or panel.metric not in history:
            missing.append(ns)
            continue
        colour = colours[i % len(colours)]
        last = max(last, float(history["epoch"].max()))
        watched = _watched(registry.get(ns, {}).get("protocol", "holdout"))
        ax.plot(
            history["epoch"],
            history[panel.metric] * scale,
            "-o",
            ms=3,
            color=colour,
            label=f"{ns}: training",
        )
        if f"val_{panel.metric}" in history:
            ax.plot(
                history["epoch"],
                history[f"val_{panel.metric}"] * scale,
                "--s",
                ms=4,
                mfc="white",  # hollow: told apart from training even when only points show
                color=colour,
                label=f"{ns}: {watched}",
            )
    if panel.table_i:
        _table_i_points(ax, panel.metric)
    else:
        family = ("loss",) if panel.metric == "loss" else PERCENT
        rows = figures[(figures["kind"] == "figures") & figures["metric"].isin(family)]
        rows = rows[rows["model"].isin(panel.models) & rows["paper"].notna()]
        _reference_lines(ax, rows.drop_duplicates(["model", "metric", "paper", "paper_split"]))
    wanted = panel.metric == "loss"
    overfitting = figures[
        (figures["metric"] == "overfitting_epoch") & figures["model"].isin(panel.models) & wanted
    ]
    for row in overfitting.dropna(subset=["paper"]).to_dict("records"):
        label = f"paper: overfitting from epoch {format_paper(row['paper'], row['metric'])}"
        ax.axvline(row["paper"], color="#c44e52", linestyle="-.", linewidth=1, label=label)
    if missing:
        commands = [registry.get(ns, {}).get("command", "not registered") for ns in missing]
        text = "\n".join(f"{ns}: not run\n({c})" for ns, c in zip(missing, commands))
        ax.text(
            0.5,
            0.5,
            text,
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=8,
            color="#555555",
            style="italic",
        )
    ax.set_title(panel.title, fontsize=10)
    if panel.table_i:
        last = max(last, float(max(PAPER_000_TABLE_I["epoch"])))
    last = max([last, *overfitting["paper"].dropna().astype(float)])
    ax.set_xlim(0, last * 1.04 + 1)  # room for the last marker
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)" if panel.metric == "accuracy" else "loss (cross-entropy)")
    if panel.metric == "accuracy":
        ax.set_ylim(0, 100)
    else:  # from 0, without an offset: one epoch's two close losses stay readable
        ax.set_ylim(0, ax.get_ylim()[1] * 1.08)
        ax.ticklabel_format(axis="y", useOffset=False)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        # Curves rise (accuracy) or fall (loss) from the left: the legend goes where they end.
        corner = "lower right" if panel.metric == "accuracy" else "upper right"
        ax.legend(fontsize=7, loc=corner)


def plot_paper_curves(
    figures: pd.DataFrame,
    paper: Paper,
    registry: Mapping[str, Mapping[str, Any]],
    **histories: pd.DataFrame | None,
) -> Figure:
    """Our per-epoch curves (training solid, the watched split dashed) under the paper's
    numbers: paper 000's Table I points, the others' reported figures as dotted lines.

    Args:
        figures: :func:`paper_tables`' first table (the paper's figures, with their splits).
        paper: the paper's data (its ``curves`` panels).
        registry: :func:`paper_registry` of the paper.
        **histories: ``<ns>__history`` per namespace (``None``: not run yet).
    """
    panels = paper.curves
    ncols = min(4, max(1, len(panels)))
    nrows = math.ceil(len(panels) / ncols) if panels else 1
    fig = Figure(figsize=(5.2 * ncols, 4.2 * nrows + 0.6), dpi=100, layout="constrained")
    fig.suptitle(f"Paper {paper.number}: our training curves under the paper's numbers")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, panel in zip(axes, panels):
        _curve_panel(ax, panel, figures, registry, histories)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    return fig
