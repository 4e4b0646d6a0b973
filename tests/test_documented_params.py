"""Every `kedro run --params "..."` written in the docs parses with Kedro's own CLI parser.

Kedro splits `--params` at every comma (kedro-org/kedro#2552), so a list such as
`seeds=[0,1,2]` fails on the command line; the docs give lists in a run config file instead.
"""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from kedro.framework.cli.utils import _split_params

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [
    ROOT / "README.md",
    ROOT / "CONTRIBUTING.md",
    *sorted((ROOT / "docs").glob("*.md")),
    *sorted((ROOT / "src").rglob("README.md")),
    *sorted((ROOT / "conf").rglob("*.yml")),
]
PARAMS = re.compile(r"""--params[= ]+("[^"]*"|'[^']*'|[^\s`]+)""")


def _documented_params() -> list[tuple[str, str]]:
    found = []
    for document in DOCUMENTS:
        for match in PARAMS.finditer(document.read_text()):
            value = match.group(1).strip("\"'")
            found.append((str(document.relative_to(ROOT)), value))
    return found


class _Option:
    name = "params"


@pytest.mark.parametrize(("document", "value"), _documented_params())
def test_documented_params_parse_as_kedro_parses_them(document, value):
    context = click.Context(click.Command("run"))
    try:
        parsed = _split_params(context, _Option(), value)
    except click.UsageError as exc:
        pytest.fail(f'{document}: `--params "{value}"` fails in kedro run: {exc}')
    assert parsed, f'{document}: `--params "{value}"` gives no parameters'


def test_the_documents_give_some_params():
    assert len(_documented_params()) > 10


def _run_config_blocks() -> list[tuple[str, str]]:
    """The ```yaml blocks of the docs that are `kedro run --config` files (a `run:` section)."""
    blocks = []
    for document in DOCUMENTS:
        if document.suffix != ".md":
            continue
        for block in re.findall(r"```yaml\n(.*?)```", document.read_text(), flags=re.DOTALL):
            if re.search(r"^run:", block, flags=re.MULTILINE):
                blocks.append((str(document.relative_to(ROOT)), block))
    return blocks


@pytest.mark.parametrize(("document", "block"), _run_config_blocks())
def test_documented_run_config_hands_its_lists_to_the_session(
    document, block, tmp_path, monkeypatch
):
    import yaml
    from click.testing import CliRunner
    from kedro.framework.cli import project
    from kedro.framework.session import KedroSession

    created = {}

    class _Session:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def run(self, **kwargs):
            return {}

    def create(cls, **kwargs):
        created.update(kwargs)
        return _Session()

    monkeypatch.setattr(KedroSession, "create", classmethod(create))
    config = tmp_path / "run.yml"
    config.write_text(block)
    result = CliRunner().invoke(project.run, ["--config", str(config)])
    assert result.exit_code == 0, f"{document}: {result.output}"
    assert created["runtime_params"] == yaml.safe_load(block)["run"]["params"]


def test_the_seed_docs_give_a_run_config():
    assert any(document == "docs/seeds.md" for document, _ in _run_config_blocks())
