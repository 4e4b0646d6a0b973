"""``kedro run --pipeline=hyperparameter_search``: paper 002's model 7 (M7).

1. ``hyperparameter_search`` namespace: random search → grid search (both cross-validated,
   KerasTuner state under ``hyperparameter_search.directory``) → the trials tables, and the
   winner's recipe ``chavez_m7_recipe``;
2. ``chavez_m7`` / ``chavez_m7_coarse``: the winner retrained on the fine / superclass labels,
   giving ``<ns>.model``, ``.history``, ``.training_summary`` like every architecture;
3. the reporting pipeline's per-architecture evaluation for both, so their metrics land in
   ``data/08_reporting/chavez_m7*/`` where the comparison and M1…M7 progression pick them up.
"""

from __future__ import annotations

from functools import partial, update_wrapper

from kedro.pipeline import Pipeline, node

from cifar100_kedro.pipelines.hyperparameter_search import nodes
from cifar100_kedro.pipelines.hyperparameter_search.nodes import BASE_NAMESPACE
from cifar100_kedro.pipelines.reporting.pipeline import create_evaluation_pipeline

# The retrained winner on the fine labels, and on the 20 superclass labels (as the paper).
FINAL_MODELS = {"chavez_m7": "fine", "chavez_m7_coarse": "coarse"}
# The grid search's winner: its hyperparameters, scores and full model/train recipe.
RECIPE = "chavez_m7_recipe"

_SHARED = {"train_split", "validation_split", "normalization_stats"}
_PARAMETERS = {
    "params:hyperparameter_search",
    "params:training_run",
    "params:device",
    f"params:{BASE_NAMESPACE}.model",
    f"params:{BASE_NAMESPACE}.train",
}
_BASE = [
    "train_split",
    f"params:{BASE_NAMESPACE}.model",
    f"params:{BASE_NAMESPACE}.train",
    "params:hyperparameter_search",
    "params:training_run",
]


def create_search_pipeline() -> Pipeline:
    """Both search stages in the ``hyperparameter_search`` namespace."""
    search = Pipeline(
        [
            node(
                nodes.run_random_search,
                [*_BASE, "params:device"],
                ["random_search_trials", "random_search_top"],
                name="random_search",
            ),
            node(
                nodes.run_grid_search,
                [*_BASE, "random_search_top", "params:device"],
                ["grid_search_trials", "best_hyperparameters"],
                name="grid_search",
            ),
            node(
                nodes.combine_trials,
                ["random_search_trials", "grid_search_trials"],
                "trials",
                name="combine_trials",
            ),
        ],
        tags={"hyperparameter_search"},
    )
    return Pipeline(
        search,
        namespace="hyperparameter_search",
        inputs={"train_split"},
        # The winner's recipe leaves the namespace under a plain name: model 7's recipe.
        outputs={"best_hyperparameters": RECIPE},
        parameters=_PARAMETERS,
    )


def create_final_training(architecture: str, label_mode: str) -> Pipeline:
    """``<architecture>.model/.history/.training_summary``: the winner, retrained."""
    train = update_wrapper(
        partial(nodes.train_best_model, architecture=architecture, label_mode=label_mode),
        nodes.train_best_model,
    )
    template = Pipeline(
        [
            node(
                train,
                [
                    "train_split",
                    "validation_split",
                    "normalization_stats",
                    RECIPE,
                    "params:training_run",
                    "params:device",
                ],
                ["model", "history", "training_summary"],
                name="train",
                tags={"training", "hyperparameter_search"},
            )
        ]
    )
    return Pipeline(
        template,
        namespace=architecture,
        inputs=_SHARED | {RECIPE},
        parameters={"params:training_run", "params:device"},
    )


def create_pipeline(**kwargs) -> Pipeline:
    """Search, retrain the winner as ``chavez_m7`` (+ ``_coarse``), evaluate both."""
    pipeline = create_search_pipeline()
    for architecture, label_mode in FINAL_MODELS.items():
        pipeline += create_final_training(architecture, label_mode)
        pipeline += create_evaluation_pipeline(architecture)
    return pipeline
