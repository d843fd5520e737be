"""`hf-sts demo` in a real browser: the command serves the quickstart's model on a loopback port, and headless
Chromium (Debian's `chromium` + `chromium-driver`, driven by Selenium) types a pair, presses the button and reads
the score, clicks an example, uploads a CSV and downloads its `id,target` file, and uploads a broken file. Every
score is checked against `hf-sts predict` on the same pairs.

Skipped, with the reason, without Chromium, chromedriver, Selenium or gradio (`.ci/run` installs them).
`HF_STS_DEMO_MODEL=DIR` serves another model instead of training the quickstart (1 epoch, the session's
`quickstart` fixture); `HF_STS_DEMO_SCREENSHOT=docs/demo.png` also saves the page's screenshot there (the README's
is `HF_STS_DEMO_MODEL=outputs/quickstart HF_STS_DEMO_SCREENSHOT=docs/demo.png python -m pytest
tests/test_demo_browser.py`).
"""

import importlib.util
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from hf_sts.cli.main import main as hf_sts_cli
from hf_sts.tools.demo import EXAMPLE_PAIRS, DemoModel

from ..conftest import KLUE_DEV, REPO_ROOT, free_port


# In the pytest-xdist worker of the other users of the `quickstart` fixture (tests/conftest.py), which this module asks
# for only when it runs.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("quickstart")]

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
PAIR = ("숙소 위치는 찾기 쉽고 일반적인 한국의 반지하 숙소입니다.", "숙박시설의 위치는 쉽게 찾을 수 있습니다.")
WAIT = 60  # seconds for any one thing to appear on the page


def _missing() -> str | None:
    if not (CHROMIUM and CHROMEDRIVER):
        return "needs headless Chromium: apt-get install -y chromium chromium-driver (.ci/run installs them)"
    for module, package in (("selenium", "selenium"), ("gradio", '"hf_sts[demo]"')):
        if importlib.util.find_spec(module) is None:
            return f"needs {module}: pip install {package} (in the test extra)"
    return None


@pytest.fixture(scope="module")
def model_dir(request) -> Path:
    if reason := _missing():
        pytest.skip(reason)
    if os.environ.get("HF_STS_DEMO_MODEL"):
        return Path(os.environ["HF_STS_DEMO_MODEL"])
    return request.getfixturevalue("quickstart")[0]


@pytest.fixture(scope="module")
def page_url(model_dir):
    """`hf-sts demo MODEL --port PORT` in its own process, until the module's tests are done."""
    port = free_port()
    log = open(model_dir.parent / f"demo-{port}.log", "w+")  # noqa: SIM115 - closed below
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    command = [
        sys.executable,
        "-c",
        "from hf_sts.cli.main import main; main()",
        "demo",
        str(model_dir),
        "--port",
        str(port),
    ]
    server = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            log.seek(0)
            pytest.fail(f"hf-sts demo did not serve {url}:\n{log.read()[-3000:]}")
        time.sleep(0.5)
    yield url
    server.terminate()
    server.wait(timeout=30)
    log.close()


@pytest.fixture(scope="module")
def browser(page_url, tmp_path_factory):
    """Headless Chromium on the page, downloading into its own folder: `(driver, wait, downloads)`."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    downloads = tmp_path_factory.mktemp("downloads")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        options.add_argument(argument)
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    )
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.get(page_url)
    wait = WebDriverWait(driver, WAIT)
    yield driver, wait, downloads
    driver.quit()


def _predict(model_dir: Path, pairs: list[tuple[str, str]], folder: Path) -> pd.DataFrame:
    """`hf-sts predict` on `pairs` (ids pair-0, ...): the `id,target` frame it writes."""
    pairs_file, output = folder / "pairs.csv", folder / "predicted.csv"
    ids = [f"pair-{i}" for i in range(len(pairs))]
    pd.DataFrame({"id": ids, "sentence1": [a for a, _ in pairs], "sentence2": [b for _, b in pairs]}).to_csv(
        pairs_file, index=False
    )
    hf_sts_cli(["predict", str(model_dir), "--input", str(pairs_file), "--output", str(output)])
    return pd.read_csv(output)


def _css(driver, selector):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def _tab(driver, wait, name):
    wait.until(lambda d: [b for b in _css(d, "button[role=tab]") if b.text.strip() == name])
    next(b for b in _css(driver, "button[role=tab]") if b.text.strip() == name).click()


def _upload(driver, wait, path: Path) -> None:
    """Upload `path` on the batch tab, clearing an earlier upload first (the file input is gone while one shows)."""
    _tab(driver, wait, "Batch")
    wait.until(lambda d: _css(d, "#hf-sts-upload"))
    clear = _css(driver, "#hf-sts-upload button[aria-label='Clear']")
    if clear:
        clear[0].click()
        wait.until(lambda d: _css(d, "#hf-sts-status")[0].text.startswith("Upload a"))
    wait.until(lambda d: _css(d, "#hf-sts-upload input[type=file]"))
    _css(driver, "#hf-sts-upload input[type=file]")[0].send_keys(str(path))


def test_typed_pair_scores_as_hf_sts_predict(browser, model_dir, tmp_path):
    driver, wait, _ = browser
    _tab(driver, wait, "Pair")
    wait.until(lambda d: _css(d, "#hf-sts-sentence1 textarea"))
    for selector, sentence in zip(("#hf-sts-sentence1", "#hf-sts-sentence2"), PAIR, strict=True):
        box = _css(driver, f"{selector} textarea")[0]
        box.clear()
        box.send_keys(sentence)
    _css(driver, "#hf-sts-score-button")[0].click()
    wait.until(lambda d: _css(d, "#hf-sts-score"))
    expected = _predict(model_dir, [PAIR], tmp_path)["target"][0]
    assert _css(driver, "#hf-sts-score")[0].text == f"{expected:.4f}"
    verdict = "similar" if expected >= 3.0 else "not similar"  # the quickstart's threshold: KLUE's 3.0
    assert _css(driver, "#hf-sts-verdict")[0].text == verdict
    cosine = _css(driver, "#hf-sts-cosine")  # the quickstart is a bi-encoder (test_demo checks the cosine itself)
    assert cosine and cosine[0].text == f"{DemoModel(str(model_dir), device='cpu').score_pair(*PAIR).cosine:.4f}"
    path = tmp_path / "demo.png"
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 10_000
    if os.environ.get("HF_STS_DEMO_SCREENSHOT"):
        shutil.copy(path, REPO_ROOT / os.environ["HF_STS_DEMO_SCREENSHOT"])


def test_example_pair_shows_its_gold_score(browser, model_dir, tmp_path):
    driver, wait, _ = browser
    _tab(driver, wait, "Pair")
    guid, first, second, gold = EXAMPLE_PAIRS[0]
    row = next(row for row in _css(driver, "tr") if first in row.text)
    row.click()
    wait.until(lambda d: _css(d, "#hf-sts-gold"))
    assert _css(driver, "#hf-sts-gold")[0].text == f"{gold:.1f}"
    expected = _predict(model_dir, [(first, second)], tmp_path)["target"][0]
    assert _css(driver, "#hf-sts-score")[0].text == f"{expected:.4f}"


def test_uploaded_csv_gives_the_table_and_predicts_id_target_file(browser, model_dir, tmp_path):
    driver, wait, downloads = browser
    pairs = [(a, b) for _, a, b, _ in EXAMPLE_PAIRS] + [PAIR]
    expected = _predict(model_dir, pairs, tmp_path)  # also writes tmp_path/pairs.csv, the upload
    _upload(driver, wait, tmp_path / "pairs.csv")
    wait.until(lambda d: "scored" in _css(d, "#hf-sts-status")[0].text)
    assert _css(driver, "#hf-sts-status")[0].text.startswith(f"{len(pairs)} pairs of pairs.csv scored")
    # gradio's table renders the rows in view as `role=row` elements of `role=gridcell`s (7 rows fit).
    rows = [
        [cell.text for cell in row.find_elements("css selector", "[role=gridcell]")]
        for row in _css(driver, "#hf-sts-table [role=row][data-index]")
    ]
    assert [row[0] for row in rows] == expected["id"].tolist()
    assert [float(row[1]) for row in rows] == pytest.approx(expected["target"].round(4).tolist(), abs=1e-9)

    _css(driver, "#hf-sts-download")[0].click()
    target = downloads / "pairs_predictions.csv"
    deadline = time.monotonic() + WAIT
    while not target.is_file() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert target.read_text() == (tmp_path / "predicted.csv").read_text()  # byte for byte `hf-sts predict`'s


def test_broken_file_is_one_readable_line(browser, tmp_path):
    driver, wait, _ = browser
    broken = tmp_path / "broken.csv"
    broken.write_text("question,answer\n가,나\n", encoding="utf-8")
    _upload(driver, wait, broken)
    wait.until(lambda d: _css(d, "#hf-sts-status")[0].text.startswith("Error:"))
    status = _css(driver, "#hf-sts-status")[0].text
    assert status.startswith("Error: broken.csv: columns ['answer', 'question'] match no known STS format.")
    assert "\n" not in status and "Traceback" not in driver.page_source
    assert not _css(driver, "#hf-sts-download") or not _css(driver, "#hf-sts-download")[0].is_displayed()


def test_dev_file_in_klue_json_scores_every_pair(browser, tmp_path):
    """The KLUE JSON format, all 519 dev pairs: the status counts them and scores them against their gold labels."""
    driver, wait, _ = browser
    upload = tmp_path / KLUE_DEV.name
    shutil.copy(KLUE_DEV, upload)
    _upload(driver, wait, upload)
    wait.until(lambda d: "519 pairs" in _css(d, "#hf-sts-status")[0].text)
    assert "Pearson r against its labels" in _css(driver, "#hf-sts-status")[0].text
