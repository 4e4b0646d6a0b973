"""``device.strategy: multi_worker_mirrored`` with two worker processes on 127.0.0.1, each with
its ``TF_CONFIG``, training one tiny model through the engine.

Keras 3's ``model.fit`` cannot train under ``MultiWorkerMirroredStrategy``
(keras-team/keras#20585): with Keras 3.15 / TensorFlow 2.21 both workers failed inside
``fit`` (first averaging the input batch across workers, then, with that step bypassed,
reducing the step's metrics). The engine therefore refuses the strategy before it trains
or writes anything, naming the parameter; this test holds it to that on a real two-worker
cluster. When Keras fixes the issue, drop ``device.check_trainable`` and turn this test into
"both workers end with identical weights, only the chief writes" (docs/scaling.md).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow

WORKER = textwrap.dedent(
    """
    import os, sys
    from cifar100_kedro.training.device import configure_device
    from cifar100_kedro.training.engine import fit_model
    from tests.training._subprocess_checks import MODEL, RECIPE, _tiny_data

    device = {"strategy": "multi_worker_mirrored", "deterministic": True}
    applied = configure_device(device)
    print("REPLICAS", applied.strategy.num_replicas_in_sync, flush=True)
    fit_model(
        _tiny_data(), _tiny_data(seed=1), None, MODEL, {**RECIPE, "epochs": 1},
        architecture="arch", work_dir=os.path.join(sys.argv[1], "arch"), device_settings=device,
    )
    """
)


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_on_a_tf_config_cluster_are_refused_before_training(tmp_path):
    shared = tmp_path / "shared"  # the run folders' root, as on storage both machines share
    shared.mkdir()
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    repository = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    processes = []
    for index in range(2):
        tf_config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        env = {
            **os.environ,
            "TF_CONFIG": json.dumps(tf_config),
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "CUDA_VISIBLE_DEVICES": "",
            "PYTHONPATH": os.pathsep.join(filter(None, [repository, os.environ.get("PYTHONPATH")])),
        }
        processes.append(subprocess.Popen(
            [sys.executable, "-c", WORKER, str(shared)], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        ))  # fmt: skip
    outputs = []
    for process in processes:
        try:
            outputs.append(process.communicate(timeout=180)[0])
        finally:
            process.kill()
    for process, output in zip(processes, outputs):
        assert "REPLICAS 2" in output, output[-3000:]  # the cluster formed: one replica each
        assert process.returncode != 0, output[-3000:]
        assert "parameter 'device.strategy' is 'multi_worker_mirrored'" in output, output[-3000:]
        assert "keras-team/keras#20585" in output
    assert list(shared.iterdir()) == []  # refused before any run folder or output
