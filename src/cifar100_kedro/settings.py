"""Project settings (Kedro defaults except for the hooks and config patterns below)."""

from cifar100_kedro.hooks import DeviceHooks

# Configure TensorFlow (devices, precision, threads, seed, strategy) once per run.
HOOKS = (DeviceHooks(),)

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # Environments (demo, test, local) override single keys of a recipe, not whole recipes.
    "merge_strategy": {"parameters": "soft"},
}
