"""Project settings (Kedro defaults except for the hooks and config options below)."""

from cifar100_kedro.hooks import DeviceHooks, SeedAxisHooks, TrainingStateHooks
from cifar100_kedro.tracking import MlflowTrackingHooks

# The seed axis read from conf before pipelines are built (training_run.seeds); TensorFlow
# device settings and recipe checks once per run; finished resume states removed once their
# outputs are saved; MLflow tracking (kedro-mlflow's MlflowHook) only where the environment
# has an mlflow.yml (conf/mlflow).
HOOKS = (SeedAxisHooks(), DeviceHooks(), TrainingStateHooks(), MlflowTrackingHooks())

# kedro-mlflow registers its hook on install and would then track every run (and fail without
# an mlflow.yml: MLflow 3.17 refuses its ./mlruns default); MlflowTrackingHooks runs it only
# where conf asks for tracking. Kedro compares the distribution's name ("kedro_mlflow").
DISABLE_HOOKS_FOR_PLUGINS = ("kedro-mlflow", "kedro_mlflow")

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # Environments (demo, test, local) override single keys of a recipe, not whole recipes.
    "merge_strategy": {"parameters": "soft"},
}

# The cross_validation pipeline's dynamic dimensions: one node per (architecture, fold).
# Kedro builds pipelines before it reads conf/, so they are fixed here, in one place:
# ``folds`` is K (paper 003: 5); ``architectures`` is None for the registry's defaults
# (``architectures.cross_validation_defaults()``: paper 003's Table I, six conv and two
# transfer models) or a tuple of registered namespaces.
# `kedro run --pipeline=cross_validation --namespaces=...` runs some of them.
CROSS_VALIDATION = {"folds": 5, "architectures": None}
