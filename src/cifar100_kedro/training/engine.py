"""The training engine: every pipeline trains through :func:`fit_model`.

One run is four parts, each its own module:

1. the recipe, parsed once into types (:mod:`.recipe`: defaults, the epoch cap, key checks);
2. the run folder (:mod:`.run_folder`): resumable state, per-epoch history, best checkpoint;
3. the task's data and the assembled model (:mod:`.tasks`, :mod:`.inputs`,
   :mod:`.assembly`): ``uint8 image → normalisation → augmentation → builder body``,
   compiled inside the configured ``tf.distribute`` strategy (:mod:`.device`);
4. ``model.fit`` with the recipe's callbacks, then the summary (:mod:`.summary`).

Augmentation placement (``train.augmentation_placement``): the recipe's Keras layers run
inside the model (``model``, the default: on the accelerator, fused with the training step)
or in a parallel ``tf.data`` map on the input threads (``dataset``). The saved model is the
same either way (augmentation is a training-only no-op at inference).
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
from keras.src.random import seed_generator as keras_seed_generator

from cifar100_kedro.models.registry import build_model
from cifar100_kedro.training import device as device_module
from cifar100_kedro.training import resume
from cifar100_kedro.training.assembly import (
    adapt_data_dependent_layers,
    assemble_model,
    check_pretrained_normalization,
    copy_pretrained_weights,
    make_optimizer,
)
from cifar100_kedro.training.budget import (
    WIDER_COSTS_AT_LEAST,
    candidate_recipe,
    choose_candidate,
    describe,
    measure_seconds,
    plan_epochs,
)
from cifar100_kedro.training.callbacks import (
    EpochLogger,
    ResizeSchedule,
    history_row_maker,
    make_callbacks,
    monitored_metric,
)
from cifar100_kedro.training.lookahead import make_lookahead
from cifar100_kedro.training.recipe import Recipe, RecipeError, parse_recipe, resize_for_epoch
from cifar100_kedro.training.resume import BackupError
from cifar100_kedro.training.run_folder import RunFolder
from cifar100_kedro.training.schedules import make_learning_rate
from cifar100_kedro.training.summary import build_summary
from cifar100_kedro.training.tasks import TASKS, TaskData, loss_and_metrics, prepare_data

logger = logging.getLogger(__name__)

DEFAULT_WORK_DIR = "data/06_models/_training_state"


def _model_factory(
    recipe: Recipe,
    data: TaskData,
    normalization_stats: Mapping[str, Any] | None,
    runtime: device_module.DeviceRuntime,
    seed: int,
    pretrained: keras.Model | None,
    train_images: np.ndarray | None = None,
):
    """``factory(total_steps) → compiled model`` (the budget probe builds a throw-away one).

    ``train_images``: what data-dependent layers of the body (the whitening stem) adapt to.
    """
    settings, where = recipe.train, f"{recipe.namespace}.train"
    copied: list[str] = []

    def factory(total_steps: int) -> keras.Model:
        with runtime.strategy.scope():
            body = build_model(
                recipe.builder, num_classes=data.num_classes, input_shape=data.input_shape,
                **recipe.hyperparameters,
            )  # fmt: skip
            if train_images is not None:
                adapt_data_dependent_layers(
                    body, train_images, settings.normalization, normalization_stats
                )
            if pretrained is not None:
                copied[:] = copy_pretrained_weights(body, pretrained, where)
            model = assemble_model(
                body, settings.normalization, normalization_stats,
                settings.augmentation if settings.augmentation_placement == "model" else None,
                seed=seed, input_shape=data.input_shape, name=recipe.namespace,
                input_dtype=data.input_dtype, float32_outputs=runtime.precision != "float32",
                progressive_resize=bool(settings.progressive_resizing),
            )  # fmt: skip
            lr = make_learning_rate(settings.optimizer, settings.schedule, total_steps, where)
            loss, metrics = loss_and_metrics(recipe, data.num_classes)
            model.compile(
                optimizer=make_optimizer(settings.optimizer, lr, where),
                loss=loss,
                metrics=metrics,
                jit_compile=runtime.xla,
                # Several steps per call of the compiled function: same updates, less Python
                # overhead per step, which dominates for the tiniest models (paper 002).
                steps_per_execution=settings.steps_per_execution,
            )
        return model

    factory.copied_layers = copied
    return factory


@contextmanager
def _private_seed_stream(seed: int) -> Iterator[None]:
    """While a training runs, Keras draws its default seeds from a private ``random.Random``.

    Keras seeds every unseeded layer and initialiser with ``random.randint`` on Python's
    global generator. Another thread of the process drawing from it between the seeding and
    the model's construction (a Dask worker's event loop does, a notebook's kernel may)
    would change the initial weights and dropout masks of a ``device.deterministic`` run.
    The private generator is seeded as the global one is (:func:`_reseed`), so a process
    with no such thread trains exactly the model it trained before.
    """
    previous = keras_seed_generator.python_random
    keras_seed_generator.python_random = random.Random(seed)
    try:
        yield
    finally:
        keras_seed_generator.python_random = previous


def _reseed(seed: int) -> None:
    """Seed Python, NumPy, TensorFlow and Keras' (private) default-seed stream."""
    keras.utils.set_random_seed(seed)
    keras_seed_generator.python_random.seed(seed)


def _budget_choice(recipe: Recipe, setup, budget_minutes: float) -> dict[str, Any]:
    """Measure the recipe (its ``budget_plan`` candidates narrowest first, until the next
    one cannot reach ``min_epochs``, or the epoch cap when lower) and return what the budget
    trains (``training/budget.py``).

    The warm-up counts against the budget: what it spent is taken out before the epochs are
    planned, so the whole call takes about the budget.
    """
    started = time.perf_counter()
    plan = recipe.train.budget_plan
    phases = recipe.train.progressive_resizing
    sizes = tuple(phase["size"] for phase in phases)
    cap = recipe.train.epochs
    indices = list(reversed(range(len(plan["candidates"])))) if plan else [None]
    # A capped run trains at most ``cap`` epochs: more than that bought is wasted, so a
    # candidate that buys the cap is enough (the demo's cap of 1 otherwise trained one
    # epoch of a narrow network and left most of the budget unused).
    needed = None
    if plan:
        needed = min(plan["min_epochs"], cap) if cap else plan["min_epochs"]
    measured = {}
    for index in indices:
        probe_started = time.perf_counter()
        data, factory = setup(candidate_recipe(recipe, index))
        timing = measure_seconds(
            factory, data.train_for, data.validation, data.steps_per_epoch, sizes
        )
        measured[index] = (timing, data.steps_per_epoch)
        # The next (wider) candidate costs at least twice as much per image, and its probe
        # times as many steps of its own batch: its probe is taken to last this one's times
        # twice the batch ratio (a probe "as long as this one" let a 30-second demo budget
        # probe the widest network, whose 10 steps of 512 images took most of the budget).
        # Probe it only when, after that, this candidate would still buy twice what is
        # needed (else the wider one cannot buy it, and not probing it saves its warm-up:
        # the widest ResNet-9's takes 100 s on the 2-core CPU).
        now = time.perf_counter()
        after_next_probe = (now - started) + (now - probe_started) * _probe_growth(
            recipe, index
        )
        left = _epochs_bought(
            timing, phases, data.steps_per_epoch, budget_minutes - after_next_probe / 60, cap
        )
        if plan is None or left < WIDER_COSTS_AT_LEAST * needed:
            break
    warmup = time.perf_counter() - started
    # What each measured candidate buys with the budget actually left after every probe.
    bought = {
        index: _epochs_bought(timing, phases, steps, budget_minutes - warmup / 60, cap)
        for index, (timing, steps) in measured.items()
    }
    chosen = choose_candidate(bought, needed) if plan else None
    timing, steps_per_epoch = measured[chosen]
    epochs, steps = plan_epochs(
        timing.per_step, timing.per_eval, steps_per_epoch, budget_minutes - warmup / 60,
        timing.startup, _step_seconds(timing, phases), cap,
    )  # fmt: skip
    return {
        "budget_minutes": float(budget_minutes),
        "candidate": chosen,
        "epochs": epochs,
        "steps": steps,
        "steps_per_epoch": steps_per_epoch,
        "seconds_per_step": timing.per_step,
        "seconds_per_step_resized": {str(k): v for k, v in timing.per_step_at.items()},
        "seconds_per_epoch": timing.per_step * steps_per_epoch + timing.per_eval,
        "seconds_per_eval": timing.per_eval,
        "startup_seconds": timing.startup,
        "warmup_seconds": warmup,
        "epochs_bought": {str(k): round(v, 3) for k, v in bought.items()},
    }


def _probe_growth(recipe: Recipe, index: int | None) -> float:
    """How many times longer the probe of the next wider candidate is taken to last."""
    if index is None or index == 0:
        return 1.0
    this = candidate_recipe(recipe, index).train.batch_size
    wider = candidate_recipe(recipe, index - 1).train.batch_size
    return WIDER_COSTS_AT_LEAST * max(1.0, wider / this)


def _step_seconds(timing, phases):
    """``(epoch, epochs) → seconds per step`` under progressive resizing (None without)."""
    if not phases:
        return None
    return lambda epoch, epochs: timing.step_seconds(resize_for_epoch(phases, epoch, epochs))


def _epochs_bought(timing, phases, steps_per_epoch: int, minutes: float, cap) -> float:
    """Epochs ``minutes`` buy (fractional without resizing; whole epochs with it)."""
    budget = minutes * 60 - timing.startup
    per_epoch = timing.per_step * steps_per_epoch + timing.per_eval
    if not phases or budget < per_epoch:
        return max(0.0, budget) / per_epoch
    epochs, _ = plan_epochs(
        timing.per_step, timing.per_eval, steps_per_epoch, minutes, timing.startup,
        _step_seconds(timing, phases), cap,
    )  # fmt: skip
    return float(epochs)


def _digest(*parts: Any) -> str:
    """A short digest of arrays and values (the data half of the resume fingerprint)."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, Mapping):
            for key in sorted(part):
                digest.update(key.encode())
                digest.update(_digest(part[key]).encode())
        elif isinstance(part, (list, tuple)):
            digest.update(_digest(*part).encode())
        elif isinstance(part, np.ndarray):
            digest.update(str((part.dtype, part.shape)).encode())
            digest.update(np.ascontiguousarray(part).tobytes())
        else:
            digest.update(repr(part).encode())
    return digest.hexdigest()[:16]


def fit_model(
    train: Mapping[str, np.ndarray],
    validation: Mapping[str, np.ndarray],
    normalization_stats: Mapping[str, Any] | None,
    model_params: Mapping[str, Any],
    train_params: Mapping[str, Any],
    *,
    architecture: str,
    work_dir: str | Path | None = None,
    run_settings: Mapping[str, Any] | None = None,
    device_settings: Mapping[str, Any] | device_module.DeviceSettings | None = None,
    pretrained: keras.Model | None = None,
    extra_callbacks: list[keras.callbacks.Callback] | None = None,
    task: str = "classification",
    protocol: str = "holdout",
    seed: int | None = None,
    run_namespace: str | None = None,
) -> tuple[keras.Model, pd.DataFrame, dict[str, Any]]:
    """Build and train one namespace's recipe; return the model, its history and summary.

    Args:
        train, validation: ``{"images": uint8 N×H×W×3, "fine": …, "coarse": …}`` (labels
            unused for reconstruction; float images train a float-input model).
        normalization_stats: the training split's per-channel ``mean``/``std``.
        model_params, train_params: the namespace's recipe (``<namespace>.model/.train``).
        architecture: the namespace (names the model, the log lines and the run folder).
        work_dir: the run folder; default ``<run_settings.work_dir>/<architecture>``.
        run_settings: the ``training_run`` parameters (``max_epochs`` cap, ``work_dir``).
        device_settings: the ``device`` parameters (strategy, XLA, precision, seed).
        pretrained: a trained model whose same-named layers seed the body's weights (paper
            003's autoencoder into its transfer models).
        extra_callbacks: more Keras callbacks, run after the recipe's (they see only epochs
            whose state is saved).
        task: ``classification`` or ``reconstruction`` (:mod:`.tasks`).
        protocol: how the caller chose ``train``/``validation`` (``holdout`` or ``paper``:
            ``architectures.PROTOCOLS``), recorded in the summary.
        seed: the seed of initialisation, data order, dropout and augmentation; None: the
            recipe's ``train.seed``, else ``device.seed`` (``training_run.seeds`` sets it).
        run_namespace: the Kedro namespace of this run when it is not ``architecture``'s own
            (a further seed, ``<architecture>.seed_<s>``): it names the run folder and the
            summary's ``namespace``.

    Returns:
        The trained model (uint8 input), the per-epoch history (one row per epoch, kept
        across resumes) and the summary (:mod:`.summary`).

    With ``backup_and_restore`` in the recipe, a run that was interrupted (even by
    ``kill -9``) continues from its last finished epoch with the whole training state
    (:mod:`.resume`), and ends with the model an uninterrupted run trains. A second process
    training the same run folder stops with :class:`.run_folder.RunFolderLocked`.
    """
    run_settings = dict(run_settings or {})
    recipe = parse_recipe(architecture, model_params, train_params, run_settings, task)
    settings, where = recipe.train, f"{architecture}.train"
    runtime = device_module.runtime(device_settings)
    device_module.check_trainable(runtime)
    if pretrained is not None:
        check_pretrained_normalization(pretrained, settings.normalization, where)
    if seed is None:
        seed = settings.seed if settings.seed is not None else runtime.seed
    run_namespace = run_namespace or architecture
    folder = RunFolder(
        work_dir or Path(run_settings.get("work_dir") or DEFAULT_WORK_DIR) / run_namespace
    )
    resumable = bool(settings.callbacks.get("backup_and_restore"))
    # Everything that decides the trained model: a state of another fingerprint is stale.
    fingerprint = "-".join(
        (
            recipe.fingerprint(),
            _digest(train, validation, normalization_stats or {}, seed, runtime.precision),
            _digest(pretrained.get_weights()) if pretrained is not None else "scratch",
        )
    )
    # One writer per run folder: a second run of the same architecture stops here.
    with folder:
        folder.open(resumable)
        for attempt in (1, 2):
            try:
                with _private_seed_stream(seed):
                    model, history, summary = _train(
                        recipe, folder, fingerprint, train, validation, normalization_stats,
                        runtime, seed, resumable, pretrained, extra_callbacks or [],
                    )  # fmt: skip
                summary = {**summary, "namespace": run_namespace, "architecture": architecture}
                return model, history, {**summary, "protocol": protocol}
            except BackupError as error:
                if attempt == 2:
                    raise
                # A state that cannot be read: say which file, then train this one afresh.
                logger.error(
                    "%s: %s; training %s from the start", architecture, error, architecture
                )
                resume.clear(folder.backup_dir)
    raise AssertionError("unreachable")


def _train(
    recipe: Recipe,
    folder: RunFolder,
    fingerprint: str,
    train: Mapping[str, np.ndarray],
    validation: Mapping[str, np.ndarray],
    normalization_stats: Mapping[str, Any] | None,
    runtime: device_module.DeviceRuntime,
    seed: int,
    resumable: bool,
    pretrained: keras.Model | None,
    extra_callbacks: list[keras.callbacks.Callback],
) -> tuple[keras.Model, pd.DataFrame, dict[str, Any]]:
    """One attempt of :func:`fit_model` inside its locked run folder."""
    settings, namespace, where = recipe.train, recipe.namespace, f"{recipe.namespace}.train"
    if settings.progressive_resizing and runtime.xla:
        raise RecipeError(
            f"parameter '{where}.progressive_resizing' changes the image size during training, "
            "which XLA cannot compile: set device.xla to false or remove progressive_resizing"
        )

    def setup(variant: Recipe):
        _reseed(seed)
        data = prepare_data(variant, train, validation, seed, runtime.settings.data_autotune)
        return data, _model_factory(
            variant, data, normalization_stats, runtime, seed, pretrained, train["images"]
        )

    epochs, steps, budget = settings.epochs, None, None
    if settings.time_budget_minutes:
        # A resumed run trains what its first attempt chose. A new run (no saved state, e.g.
        # the same command again after the outputs were saved, maybe on another machine)
        # measures again: a plan measured elsewhere would miss this machine's budget.
        resuming_a_run = resumable and resume.has_backup(folder.backup_dir)
        budget = folder.recorded_budget(fingerprint) if resuming_a_run else None
        if budget is None:
            budget = _budget_choice(recipe, setup, settings.time_budget_minutes)
            folder.record_budget(fingerprint, budget)
        logger.info("%s: %s", namespace, describe(budget))
        # (A budget recorded by an older version lacks some of these.)
        floor = sum(
            budget.get(key, 0.0)
            for key in ("warmup_seconds", "startup_seconds", "seconds_per_eval")
        )
        if floor > settings.time_budget_minutes * 60:
            # One step and one validation pass are the least a run trains and reports.
            logger.warning(
                "%s: the budget of %g min is shorter than the warm-up, start-up and one "
                "validation pass (%.0f s): the run will take longer than the budget",
                namespace, settings.time_budget_minutes, floor,
            )  # fmt: skip
        # The chosen network and batch (a budget_plan candidate) is the recipe trained.
        recipe = candidate_recipe(recipe, budget["candidate"])
        settings = recipe.train
        # ``epochs`` (when given, e.g. capped by training_run.max_epochs) stays an upper bound.
        epochs = min(epochs, budget["epochs"]) if epochs else budget["epochs"]
        steps = budget["steps"]
    data, factory = setup(recipe)
    if not epochs:
        raise RecipeError(f"parameter '{where}.epochs' is missing")
    model = factory(total_steps=(steps or data.steps_per_epoch) * epochs)
    metrics = TASKS[recipe.task].history_metrics
    columns = ("epoch", *metrics, "learning_rate", "seconds", "cpu_seconds")
    recipe_callbacks = make_callbacks(settings.callbacks, folder.path, where)
    if settings.progressive_resizing:
        recipe_callbacks.append(ResizeSchedule(settings.progressive_resizing, epochs, namespace))
    state = resume.TrainingState(
        folder.backup_dir,
        callbacks=recipe_callbacks,
        fingerprint=f"{fingerprint}-{epochs}-{steps}",
        history_csv=folder.history_path,
        history_row=history_row_maker(metrics),
        columns=columns,
        extra_seed_generators=data.seed_generators,
        persist=resumable,
    )
    resuming = state.resuming
    augmented = (
        f", augmentation in the {settings.augmentation_placement}" if settings.augmentation else ""
    )
    logger.info(
        "%s: training %s (%s): %d images, %d classes%s, batch %d, %d epochs, %s parameters%s%s",
        namespace, recipe.builder, recipe.task, data.train_images, data.num_classes,
        f" ({settings.label_mode})" if recipe.task == "classification" else "",
        settings.batch_size, epochs, f"{model.count_params():,}", augmented,
        f" (resuming after epoch {state.initial_epoch})" if resuming else "",
    )  # fmt: skip
    started = time.perf_counter()
    model.fit(
        # steps: None for whole epochs; else the epochs the budget buys are this many steps
        # long, each a fresh subset (a new iterator per epoch: no ``steps_per_epoch`` here).
        data.train_for(iterations=model.optimizer.iterations, epoch_steps=steps),
        validation_data=data.validation,
        epochs=epochs,
        # The state after the callbacks it saves; loggers after it see only saved epochs.
        # Lookahead first: it ends each epoch synchronised (no state of its own to save), so
        # the checkpoint, early stopping and the saved state see the synchronised weights.
        callbacks=[
            *make_lookahead(settings.lookahead), *recipe_callbacks, state,
            EpochLogger(epochs, namespace, metrics), *extra_callbacks,
        ],
        shuffle=False,  # the epoch order is the input's (a pure function of seed and epoch)
        verbose=settings.verbose,
    )  # fmt: skip
    history = pd.DataFrame(state.history, columns=list(columns))
    summary = build_summary(
        recipe, model, history, seed=seed, epochs=epochs,
        monitor=monitored_metric(settings.callbacks), resumed=resuming,
        num_classes=data.num_classes, train_images=data.train_images,
        validation_images=data.validation_images, fallback_seconds=time.perf_counter() - started,
    )  # fmt: skip
    summary["run_folder"] = str(folder.path)
    if budget is not None:
        summary["budget"] = {**budget, "description": describe(budget)}
        if steps is not None:  # shortened epochs: count the images they trained on
            fraction = steps / data.steps_per_epoch
            summary["partial_epoch"] = fraction
            summary["images_per_second"] *= fraction
    if pretrained is not None:
        summary["pretrained_from"] = pretrained.name
        summary["pretrained_layers"] = len(factory.copied_layers)
    return model, history, summary
