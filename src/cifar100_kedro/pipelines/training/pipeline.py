"""The training pipeline: one namespace per registered architecture (and per further seed),
from one template."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial, update_wrapper

from kedro.pipeline import Pipeline, node

from cifar100_kedro import architectures, seed_axis
from cifar100_kedro.pipelines.training.nodes import train_architecture

SHARED_INPUTS = {"train_split", "validation_split", "normalization_stats"}
SHARED_PARAMETERS = {"params:training_run", "params:device"}


def create_training_template(
    architecture: str,
    extra_inputs: Mapping[str, str] | None = None,
    protocol: str = "holdout",
    *,
    seed: int | None = None,
    namespace: str | None = None,
) -> Pipeline:
    """``<namespace>.model/.history/.training_summary`` from the shared model input.

    ``extra_inputs`` maps further ``train_architecture`` arguments to datasets outside the
    namespace, e.g. ``{"pretrained": "autoencoder_model"}`` (the template names the input after
    the argument, and the namespace maps it to the dataset). ``protocol="paper"`` also gives
    the node the test split (the paper watched it during training; see ``PROTOCOLS``).
    ``seed`` overrides the recipe's seed; ``namespace`` (default: ``architecture``) is the
    Kedro namespace, e.g. ``<architecture>.seed_<s>`` for a further seed, which trains
    ``architecture``'s recipe (``params:<architecture>.model/.train``).
    """
    namespace = namespace or architecture
    extra_inputs = dict(extra_inputs or {})
    if protocol == "paper":
        extra_inputs["test_split"] = "test_split"
    train = update_wrapper(
        partial(
            train_architecture,
            architecture=architecture,
            protocol=protocol,
            seed=seed,
            run_namespace=namespace,
        ),
        train_architecture,
    )
    template = Pipeline(
        [
            node(
                train,
                inputs={
                    "train_split": "train_split",
                    "validation_split": "validation_split",
                    "normalization_stats": "normalization_stats",
                    "model_params": "params:model",
                    "train_params": "params:train",
                    "run_settings": "params:training_run",
                    "device_settings": "params:device",
                    **{argument: argument for argument in extra_inputs},
                },
                outputs=["model", "history", "training_summary"],
                name="train",
                tags=["training"],
            )
        ]
    )
    # A further seed's namespace reads its architecture's recipe, not a copy of it.
    recipe = {
        "params:model": f"params:{architecture}.model",
        "params:train": f"params:{architecture}.train",
    }
    return Pipeline(
        template,
        namespace=namespace,
        inputs={name: name for name in SHARED_INPUTS} | extra_inputs,
        parameters={name: name for name in SHARED_PARAMETERS}
        | (recipe if namespace != architecture else {}),
    )


def create_pipeline(**kwargs) -> Pipeline:
    """Train every architecture the registry gives the default run, each with the seeds
    ``training_run.seeds`` gives it (:mod:`cifar100_kedro.seed_axis`)."""
    axis = seed_axis.current()
    pipeline = Pipeline([])
    for arch in architectures.default_training():
        runs = [(arch.namespace, axis.primary_seed(arch.namespace))]
        runs += list(axis.extra_runs(arch.namespace))
        for namespace, seed in runs:
            pipeline += create_training_template(
                arch.namespace, arch.extra_inputs, arch.protocol, seed=seed, namespace=namespace
            )
    return pipeline
