"""The ``reporting`` pipeline: evaluate each trained architecture once, then compare them.

- :func:`create_evaluation_pipeline` — the per-architecture template, wrapped in the
  architecture's namespace (``<ns>.test_predictions``, ``<ns>.metrics``, ``<ns>.*_plot`` …).
  Other pipelines (``fish_subset``, ``hyperparameter_search``) reuse it for their namespaces.
- :func:`create_comparison_pipeline` — across architectures: comparison table/Markdown/chart,
  McNemar heatmaps and paper 002's progression chart. Every namespace's metrics and
  predictions are explicit inputs; those of architectures another pipeline produces are read
  through ``<ns>.metrics_if_present`` / ``<ns>.test_predictions_if_present`` (``None`` until that
  pipeline has run), which is how paper 002's M7 joins once ``hyperparameter_search`` has
  evaluated it.

Which namespaces exist, their papers' figures and paper 002's stages are the architecture
registry's (:mod:`cifar100_kedro.architectures`), bound to the nodes as plain data.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from functools import partial, update_wrapper

from kedro.pipeline import Pipeline, node

from cifar100_kedro import architectures, seed_axis
from cifar100_kedro.pipelines.reporting import nodes as n
from cifar100_kedro.pipelines.reporting import reproduction as rp
from cifar100_kedro.pipelines.reporting import seeds
from cifar100_kedro.pipelines.reporting.comparison import progression_stages, registry_view

# Keyword arguments of the collecting nodes, which take the namespaces as keywords too.
_RESERVED = {"test_split", "optional"}


def _bound(func: Callable, **constants) -> Callable:
    """``func`` with code-side constants bound (nodes are fed datasets; the registry is code)."""
    return update_wrapper(partial(func, **constants), func)


def create_evaluation_pipeline(
    namespace: str,
    *,
    test_split: str = "test_split",
    label_names: str = "label_names",
    new_images: str = "new_images",
    parameters: str = "params:reporting",
    coarse: bool = True,
    metrics_only: bool = False,
) -> Pipeline:
    """Every per-architecture report for ``namespace``.

    Inputs (namespaced): ``<ns>.model``, ``<ns>.history``, ``<ns>.training_summary``; shared:
    ``test_split``, ``label_names``, ``new_images`` and the ``reporting`` parameters (each
    renameable, e.g. a fish pipeline passes its own 5-class test split and label names).
    ``coarse=False`` leaves out the superclass confusion matrix (for data without superclasses).
    ``metrics_only=True`` keeps the test predictions and metrics alone (a further seed's
    namespace: the seed reports need its scores, the figures are its first seed's).
    """
    nodes = [
        node(
            n.predict_test_set,
            ["model", "test_split", "label_names", "training_summary", "params:reporting"],
            "test_predictions",
            name="predict_test_set",
        ),
        node(
            n.compute_metrics,
            ["test_predictions", "training_summary", "history", "label_names", "params:reporting"],
            "metrics",
            name="compute_metrics",
        ),
        node(
            n.confusion_matrix_table,
            ["test_predictions", "label_names", "training_summary"],
            "confusion_matrix",
            name="confusion_matrix_table",
        ),
        node(
            n.plot_confusion_matrix,
            ["confusion_matrix", "label_names", "training_summary"],
            "confusion_matrix_plot",
            name="plot_confusion_matrix",
        ),
        node(
            n.classification_report_table,
            ["test_predictions", "label_names", "training_summary"],
            "classification_report",
            name="classification_report_table",
        ),
        node(
            n.best_worst_classes,
            ["classification_report", "params:reporting"],
            "best_worst_classes",
            name="best_worst_classes",
        ),
        node(
            n.plot_best_worst_classes,
            ["best_worst_classes", "training_summary"],
            "best_worst_classes_plot",
            name="plot_best_worst_classes",
        ),
        node(
            n.plot_training_curves,
            ["history", "training_summary"],
            "training_curves_plot",
            name="plot_training_curves",
        ),
        node(
            n.plot_prediction_grid,
            [
                "test_split",
                "test_predictions",
                "label_names",
                "training_summary",
                "params:reporting",
            ],
            "prediction_grid_plot",
            name="plot_prediction_grid",
        ),
        node(
            n.predict_new_images,
            ["model", "new_images", "label_names", "training_summary", "params:reporting"],
            ["new_image_plots", "new_image_predictions"],
            name="predict_new_images",
        ),
    ]
    if metrics_only:
        nodes = nodes[:2]
    elif coarse:
        nodes += [
            node(
                n.coarse_confusion_matrix_table,
                ["test_predictions", "label_names"],
                "coarse_confusion_matrix",
                name="coarse_confusion_matrix_table",
            ),
            node(
                n.plot_coarse_confusion_matrix,
                ["coarse_confusion_matrix", "training_summary"],
                "coarse_confusion_matrix_plot",
                name="plot_coarse_confusion_matrix",
            ),
        ]
    shared = {"test_split": test_split, "label_names": label_names}
    if not metrics_only:
        shared["new_images"] = new_images
    return Pipeline(
        nodes,
        namespace=namespace,
        inputs=shared,
        parameters={"params:reporting": parameters},
        tags={"reporting"},
    )


def create_comparison_pipeline(
    namespaces: Iterable[str],
    *,
    optional: Iterable[str] = (),
    test_split: str = "test_split",
    seed_runs: Iterable[str] = (),
) -> Pipeline:
    """Comparison across ``namespaces`` (in that order).

    ``seed_runs`` are the further seeds' namespaces (``<architecture>.seed_<s>``): their
    metrics and histories join the seed reports (``seed_runs_table``, ``seed_summary_table``,
    ``seed_pairwise_tests``, ``seed_report``, ``seed_accuracy_plot``), the means of the
    comparison table and chart, and the time to accuracy.

    ``optional`` are those of ``namespaces`` another pipeline produces: the comparison reads
    their ``<ns>.metrics_if_present`` / ``<ns>.test_predictions_if_present`` and leaves them out
    until they exist. The others' ``<ns>.metrics`` / ``<ns>.test_predictions`` are required.
    """
    namespaces = list(namespaces)
    optional = [ns for ns in namespaces if ns in set(optional)]
    clash = _RESERVED.intersection(namespaces)
    if clash:
        raise ValueError(f"namespace name(s) {sorted(clash)} are reserved by the comparison nodes")
    suffix = {ns: "_if_present" if ns in optional else "" for ns in namespaces}
    metric_inputs = {ns: f"{ns}.metrics{suffix[ns]}" for ns in namespaces}
    prediction_inputs = {"test_split": test_split}
    prediction_inputs.update({ns: f"{ns}.test_predictions{suffix[ns]}" for ns in namespaces})
    history_inputs = {ns: f"{ns}.history{suffix[ns]}" for ns in namespaces}
    seed_runs = list(seed_runs)
    seed_metric_inputs = {ns: f"{ns}.metrics" for ns in seed_runs}
    history_inputs.update({ns: f"{ns}.history" for ns in seed_runs})
    superclass_models = tuple(
        a.namespace for a in architectures.all_architectures() if a.label_mode == "coarse"
    )
    registry = registry_view(architectures.all_architectures())
    stages = progression_stages(architectures.progression())
    # These two nodes read other namespaces' outputs ("<ns>.metrics") on purpose; Kedro warns
    # about any dotted input of a node outside that namespace, so silence that one warning here.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="One or more dataset names contain '.'")
        collectors = [
            node(
                n.collect_metrics, metric_inputs, "all_model_metrics", name="collect_model_metrics"
            ),
            node(
                _bound(n.collect_predictions, optional=tuple(optional)),
                prediction_inputs,
                "all_test_predictions",
                name="collect_test_predictions",
            ),
            node(
                n.collect_histories, history_inputs, "all_model_histories",
                name="collect_model_histories",
            ),
            node(
                n.collect_metrics, seed_metric_inputs or None, "all_seed_run_metrics",
                name="collect_seed_run_metrics",
            ),
        ]
    return Pipeline(
        [
            *collectors,
            node(
                seeds.seed_runs_table,
                ["all_model_metrics", "all_seed_run_metrics"],
                "seed_runs_table",
                name="build_seed_runs_table",
            ),
            node(
                seeds.seed_summary_table,
                ["seed_runs_table", "params:reporting.seeds"],
                "seed_summary_table",
                name="build_seed_summary_table",
            ),
            node(
                seeds.seed_pairwise_table,
                ["seed_runs_table", "params:reporting.seeds"],
                "seed_pairwise_tests",
                name="seed_pairwise_tests",
            ),
            node(
                seeds.seed_report_markdown,
                ["seed_summary_table", "seed_runs_table", "seed_pairwise_tests"],
                "seed_report",
                name="write_seed_report",
            ),
            node(
                seeds.plot_seed_accuracies,
                ["seed_runs_table", "seed_summary_table"],
                "seed_accuracy_plot",
                name="plot_seed_accuracies",
            ),
            node(
                _bound(n.comparison_table, registry=registry),
                {"all_metrics": "all_model_metrics", "seed_summary": "seed_summary_table"},
                "model_comparison_table",
                name="build_model_comparison_table",
            ),
            node(
                n.comparison_markdown,
                "model_comparison_table",
                "model_comparison_markdown",
                name="write_model_comparison_markdown",
            ),
            node(
                n.plot_comparison,
                "model_comparison_table",
                "model_comparison_plot",
                name="plot_model_comparison",
            ),
            node(
                _bound(n.time_to_accuracy_table, coarse=superclass_models),
                ["all_model_histories", "params:reporting.time_to_accuracy"],
                "time_to_accuracy_table",
                name="build_time_to_accuracy_table",
            ),
            node(
                _bound(n.plot_accuracy_vs_training_time, coarse=superclass_models),
                ["all_model_histories", "params:reporting.time_to_accuracy"],
                "accuracy_vs_training_time_plot",
                name="plot_accuracy_vs_training_time",
            ),
            node(
                n.mcnemar_fine,
                ["all_test_predictions", test_split, "params:reporting.mcnemar"],
                "mcnemar_fine_table",
                name="mcnemar_fine",
            ),
            node(
                n.plot_mcnemar_fine,
                ["mcnemar_fine_table", "params:reporting.mcnemar"],
                "mcnemar_fine_heatmap",
                name="plot_mcnemar_fine",
            ),
            node(
                n.mcnemar_coarse,
                ["all_test_predictions", test_split, "params:reporting.mcnemar"],
                "mcnemar_coarse_table",
                name="mcnemar_coarse",
            ),
            node(
                n.plot_mcnemar_coarse,
                ["mcnemar_coarse_table", "params:reporting.mcnemar"],
                "mcnemar_coarse_heatmap",
                name="plot_mcnemar_coarse",
            ),
            node(
                _bound(n.progression_table, stages=stages, registry=registry),
                "all_model_metrics",
                "chavez_progression_table",
                name="chavez_progression_table",
            ),
            node(
                n.plot_progression,
                "chavez_progression_table",
                "chavez_progression_plot",
                name="plot_chavez_progression",
            ),
        ],
        tags={"reporting", "comparison"},
    )


def create_pipeline(**kwargs) -> Pipeline:
    """Evaluate every compared architecture the training pipeline trains, then compare them
    with the compared architectures of other pipelines (when their results exist)."""
    compared = architectures.compared()
    trained_here = [a.namespace for a in compared if a.pipeline == "training"]
    seed_runs = [ns for _, ns, _ in seed_axis.current().all_extra_runs(trained_here)]
    evaluations = Pipeline([])
    for namespace in trained_here:
        evaluations += create_evaluation_pipeline(namespace)
    for namespace in seed_runs:
        evaluations += create_evaluation_pipeline(namespace, metrics_only=True)
    others = [a.namespace for a in compared if a.pipeline != "training"]
    return (
        evaluations
        + create_comparison_pipeline(
            [a.namespace for a in compared], optional=others, seed_runs=seed_runs
        )
        + create_reproduction_pipeline()
    )


def create_reproduction_pipeline() -> Pipeline:
    """The papers' own tables and figures regenerated from our results (tag ``reproduction``).

    Paper 000's Table I from the history (``rana_elu_cnn.paper_table_1``), then, in the
    namespace ``reproduction``, per paper ``paper_00N_tables`` (the paper's numbers beside ours
    → ``reproduction.paper_00N_table`` and ``_models``), ``paper_00N_page`` (Markdown),
    ``paper_00N_accuracy_plot`` and ``paper_00N_curves_plot`` (PNG), and one ``index`` page.
    They read each namespace's metrics, history and training summary; those of models the
    reporting run does not evaluate (opt-in studies, other pipelines' models) through
    ``<ns>.*_if_present``, so a missing result reads "not run" instead of failing.
    """
    table_1 = Pipeline(
        [
            node(
                n.paper_000_table_1,
                "history",
                "paper_table_1",
                name="paper_000_table_1",
            )
        ],
        namespace="rana_elu_cnn",
        tags={"reporting", "reproduction"},
    )
    # The pages read other namespaces' outputs ("<ns>.metrics") on purpose: silence Kedro's
    # warning about dotted inputs, as the comparison does.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="One or more dataset names contain '.'")
        return table_1 + _reproduction_pages()


def _reproduction_pages() -> Pipeline:
    evaluated = {a.namespace for a in architectures.compared() if a.pipeline == "training"}
    nodes, external, pages = [], set(), {}
    for paper in rp.PAPERS.values():
        registry = rp.paper_registry(architectures.all_architectures(), paper.number)
        inputs = rp.paper_inputs(paper, registry, evaluated)
        external |= set(inputs.values())
        key = paper.key
        tables = [f"{key}_table", f"{key}_models"]
        pages.update(zip(tables, tables))
        nodes += [
            node(
                _bound(rp.paper_tables, paper=paper, registry=registry),
                inputs,
                tables,
                name=f"{key}_tables",
            ),
            node(_bound(rp.paper_page, paper=paper), tables, f"{key}_page", name=f"{key}_page"),
            node(
                _bound(rp.plot_paper_figures, paper=paper),
                f"{key}_table",
                f"{key}_accuracy_plot",
                name=f"{key}_accuracy_plot",
            ),
        ]
        if paper.curves:
            histories = {k: v for k, v in inputs.items() if k.endswith("__history")}
            nodes.append(
                node(
                    _bound(rp.plot_paper_curves, paper=paper, registry=registry),
                    {"figures": f"{key}_table", **histories},
                    f"{key}_curves_plot",
                    name=f"{key}_curves_plot",
                )
            )
    nodes.append(node(_bound(rp.index_page, papers=rp.PAPERS), pages, "index", name="index"))
    return Pipeline(
        nodes,
        namespace="reproduction",
        inputs=external,
        tags={"reporting", "reproduction"},
    )
