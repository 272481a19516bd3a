"""``orc new-plugin`` (#21): the package it writes builds into a wheel, installs with orc's wheel into a fresh venv
(``--no-index``: its dependency must name orc's distribution), loads as a plugin, and its own tests pass there with
orc's pytest plugin. orc's wheel is the session's (``orc_wheel``, tests/wheels.py), shared with
test_example_package."""

import json

import pytest
from wheels import build_wheel, fresh_venv, install_from_wheels, run

pytestmark = pytest.mark.timeout(400)


@pytest.fixture(scope="module")
def generated(tmp_path_factory, orc_wheel):
    """A venv with orc's wheel, where `orc new-plugin license-check` wrote a package, installed from its wheel."""
    tmp = tmp_path_factory.mktemp("new-plugin")
    bin_dir, env = fresh_venv(tmp, orc_wheel)
    work = tmp / "work"
    work.mkdir()
    out = run(bin_dir / "orc", "new-plugin", "license-check", "--dir", tmp, env=env, cwd=work)
    package = tmp / "orc-license-check"
    assert out.stdout.startswith(f"Wrote {package}: plugin 'license_check'"), out.stdout
    wheels = tmp / "wheels"
    build_wheel(package, wheels)
    install_from_wheels(bin_dir, orc_wheel, wheels, "orc-license-check")
    return bin_dir, env, work, package


def test_the_new_plugin_is_installed_and_loaded(generated):
    bin_dir, env, work, _ = generated
    where = run(
        bin_dir / "python", "-c", "import orc_license_check; print(orc_license_check.__file__)", env=env
    )
    assert where.stdout.startswith(str(bin_dir.parent))  # from the wheel, not the source folder
    rows = json.loads(run(bin_dir / "orc", "plugins", "--json", env=env, cwd=work).stdout)
    (row,) = rows
    assert (row["name"], row["distribution"], row["version"]) == (
        "license_check",
        "orc-license-check",
        "0.1.0",
    )
    assert row["provides"] == {"roles": ["license_check"], "task_types": ["license_check"]}


def test_the_new_plugins_tests_pass_in_the_venv(generated):
    bin_dir, env, work, package = generated
    out = run(
        bin_dir / "python",
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        package / "tests",
        env=env,
        cwd=work,
    )
    assert "4 passed" in out.stdout, out.stdout


def test_its_readme_demo_runs(generated):
    """The README's `orc execute --scripted --task-type ...`: the role's scripted demo, then orc's reviewer."""
    bin_dir, env, work, _ = generated
    out = run(
        bin_dir / "orc", "execute", "--scripted", "--task-type", "license_check", "Check the app", "--cwd", work,
        env=env, cwd=work,
    )  # fmt: skip
    assert out.stdout.startswith("Success: 2/2 subtasks"), out.stdout


def test_a_reserved_or_bad_name_is_refused(orc_cli):
    for name, words in (
        ("monitor", "'monitor' is reserved for orc's built-ins"),
        ("Bad Name", "'Bad Name' cannot name a plugin"),
    ):
        out = orc_cli("new-plugin", name)
        assert out.exit_code == 2 and words in out.stderr, out.output
    assert orc_cli("new-plugin", "audit").exit_code == 0
    again = orc_cli("new-plugin", "audit")
    assert again.exit_code == 2 and "exists already" in again.stderr
