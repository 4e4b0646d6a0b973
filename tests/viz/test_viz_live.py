"""The live ``kedro viz`` server: started on 127.0.0.1, its API polled until ready, the page
opened in a real headless Chromium (graph drawn, a plot preview shown, screenshots saved in the
test's temporary folder), then the server stopped cleanly.

The browser test needs the Debian packages ``chromium`` and ``chromium-driver`` and the Python
package ``selenium`` (``.ci/run`` installs them); without them it is skipped, saying why.
The tests run in file order: the last one stops the server.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from tests.viz.support import VizServer, get_json, port_open, viz_namespace

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
# Chromium as root in a container: no sandbox, no GPU, no background network traffic.
CHROMIUM_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1600,1000",
)


@pytest.fixture(scope="module")
def viz_server(run_project: Path, tmp_path_factory):
    server = VizServer(run_project, tmp_path_factory.mktemp("viz_server") / "kedro_viz.log")
    server.wait_until_ready()
    yield server
    server.stop()


def chromium_paths() -> tuple[str, str] | None:
    """(browser, chromedriver) from $CHROME_BIN/$CHROMEDRIVER or the PATH, or None."""
    browser = os.environ.get("CHROME_BIN") or next(
        (path for name in CHROMIUM_CANDIDATES if (path := shutil.which(name))), None
    )
    driver = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    paths = chromium_paths()
    if paths is None:
        pytest.skip(
            "Chromium not installed: `apt-get install chromium chromium-driver` "
            "(or set CHROME_BIN and CHROMEDRIVER)"
        )
    webdriver = pytest.importorskip(
        "selenium.webdriver", reason="selenium not installed: pip install selenium"
    )
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    for argument in CHROMIUM_ARGS:
        options.add_argument(argument)
    options.add_argument(
        f"--user-data-dir={tempfile.mkdtemp(dir=tmp_path_factory.mktemp('chromium'))}"
    )
    # An explicit driver path: Selenium Manager would otherwise try to download one.
    driver = webdriver.Chrome(service=Service(paths[1]), options=options)
    driver.set_page_load_timeout(120)
    yield driver
    driver.quit()


def wait_for(condition, timeout: float, what: str):
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


def past_size_warning(browser):
    """The browser, after clicking kedro-viz's "Render it anyway" if the page shows it.

    kedro-viz asks before laying out a graph of many elements (the default pipeline is one):
    a user clicks the button, and so does the test.
    """
    from selenium.webdriver.common.by import By

    render_anyway = "//button[normalize-space(.)='Render it anyway']"
    for button in browser.find_elements(By.XPATH, render_anyway):
        with contextlib.suppress(Exception):
            button.click()
    return browser


def test_api_answers_with_every_pipeline(viz_server: VizServer, registered_pipelines: dict) -> None:
    from cifar100_kedro.architectures import default_training

    ARCHITECTURES = [a.namespace for a in default_training()]

    main = get_json(f"{viz_server.url}/api/main")
    assert {p["id"] for p in main["pipelines"]} >= set(registered_pipelines)
    training = get_json(f"{viz_server.url}/api/pipelines/training")
    assert set(ARCHITECTURES) <= set(training["modular_pipelines"])


def test_browser_draws_the_graph_and_a_plot_preview(
    viz_server: VizServer, browser, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    from cifar100_kedro.architectures import default_training

    ARCHITECTURES = [a.namespace for a in default_training()]

    # Any page of the origin first, to switch off the onboarding tour in localStorage.
    browser.get(f"{viz_server.url}/api/version")
    browser.execute_script(
        "window.localStorage.setItem('KedroViz', JSON.stringify({showFeatureHints: false}))"
    )

    browser.get(f"{viz_server.url}/?pid=__default__")
    wait_for(
        lambda: past_size_warning(browser).find_elements(By.CSS_SELECTOR, ".pipeline-node"),
        180,
        "the flowchart's nodes",
    )
    for banner_button in browser.find_elements(By.XPATH, "//*[normalize-space(text())='Dismiss']"):
        # The "what's new" banner, when this kedro-viz shows one; it only hides part of the
        # screenshot, so a banner that cannot be clicked is no failure.
        with contextlib.suppress(Exception):
            banner_button.click()
    time.sleep(2)  # let the layout settle before the screenshot
    namespaces = {
        element.get_attribute("textContent").strip()
        for element in browser.find_elements(By.CSS_SELECTOR, ".pipeline-node--modularPipeline")
    }
    assert set(ARCHITECTURES) <= namespaces, sorted(set(ARCHITECTURES) - namespaces)
    graph_png = tmp_path / "kedro_viz_default.png"
    assert browser.save_screenshot(str(graph_png))

    # Select a plot of the trained namespace: its metadata panel shows the PNG preview.
    main = get_json(f"{viz_server.url}/api/main")
    ns = viz_namespace()
    plots = [
        n
        for n in main["nodes"]
        if n["type"] == "data"
        and n["name"].startswith(f"{ns}.")
        and (n.get("dataset_type") or "").endswith("MatplotlibDataset")
        and get_json(f"{viz_server.url}/api/nodes/{n['id']}").get("preview")
    ]
    assert plots, f"no plot of {ns} with a preview"
    plot = plots[0]
    browser.get(f"{viz_server.url}/?pid=__default__&sid={plot['id']}&sn={plot['name']}")
    image = wait_for(
        lambda: past_size_warning(browser).find_elements(
            By.CSS_SELECTOR, "img.pipeline-metadata__plot-image"
        ),
        120,
        f"the preview of {plot['name']}",
    )[0]
    source = image.get_attribute("src")
    assert source.startswith("data:image/png;base64,")
    assert base64.b64decode(source.split(",", 1)[1])[:4] == b"\x89PNG"
    time.sleep(1)
    preview_png = tmp_path / "kedro_viz_preview.png"
    assert browser.save_screenshot(str(preview_png))
    for path in (graph_png, preview_png):
        assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size > 10_000, path
    print(f"screenshots: {graph_png} {preview_png}")


def test_server_stops_cleanly(viz_server: VizServer) -> None:
    assert viz_server.stop(), f"kedro viz needed SIGKILL:\n{viz_server.log_tail()}"
    assert viz_server.process.returncode is not None
    assert not port_open(viz_server.port), f"port {viz_server.port} still open after stop"
