"""The README stays true: its Python example runs as written, and every test it cites exists."""

import re
import subprocess
import sys
from pathlib import Path

from fixtures import clean_env, default_store

ROOT = Path(__file__).parent.parent


def test_the_readme_python_example_is_examples_quickstart():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```python\n(.*?)```", readme, re.DOTALL).group(1)
    script = (ROOT / "examples" / "quickstart.py").read_text()
    assert block == script[script.index("import asyncio") :]  # the whole program, past its docstring


def test_examples_use_only_the_public_api():
    """No example reaches into orc's testing package: offline is the public switch, ORC_SCRIPTED=1 (#19)."""
    for example in sorted((ROOT / "examples").glob("*.py")):
        source = example.read_text()
        assert "orchestrator_core.testing" not in source and "ORC_SCRIPTED=1" in source, example.name


def test_examples_quickstart_runs(tmp_path, scripted_model, orc_pm):
    orc_pm.hook.orc_scripted_model(model=scripted_model)  # the built-in roles' scripted behaviour
    env = clean_env(
        tmp_path, **scripted_model.env(tmp_path / "claude-config"), ORC_DISABLE_PLUGIN_AUTOLOAD="1"
    )
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("True ") and "Approved" in lines[1]
    assert "used_tokens" in out.stdout
    assert (tmp_path / "add_csv_export.py").exists() and default_store(tmp_path / "home").exists()


def test_every_test_the_readme_cites_exists():
    readme = (ROOT / "README.md").read_text()
    cited, current = [], None
    for path, name in re.findall(r"`(tests/[\w/]+\.py)?::(\w+)`", readme):
        current = path or current
        cited.append((current, name))
    assert len(cited) >= 10
    for path, name in cited:
        source = (ROOT / path).read_text()
        assert re.search(rf"^(async )?def {name}\(", source, re.MULTILINE), (
            f"{path}::{name} is cited but missing"
        )
