"""orc_worktree (#12): a git worktree per writing agent, merged in plan order after the task, with a conflict report.

Real git repositories in ``tmp_path``, real claude-agent-sdk sessions against the scripted model: the Write and
Edit tools really run in the worktrees.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

from orchestrator_core import Orchestrator, Plan, Subtask, UsageError, hookimpl, make_plugin_manager
from orchestrator_core.testing import text, tool

pytestmark = pytest.mark.anyio

BIN = Path(sys.executable).parent


def git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A git repository with one commit: ``app.py`` and a ``.worktreeinclude`` naming the untracked ``.env``."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.setenv("ORC_WORKTREE_DIR", str(tmp_path / "worktrees"))
    for name in ("ORC_WORKTREE_ROLES", "ORC_WORKTREE_SETUP", "ORC_WORKTREE_OVERLAP"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "--quiet", "--initial-branch", "main")
    git(path, "config", "user.name", "Test")
    git(path, "config", "user.email", "test@example.com")
    (path / "app.py").write_text("first = 1\nvalue = 0\nlast = 9\n")
    (path / ".gitignore").write_text(".env\n")
    (path / ".worktreeinclude").write_text("# untracked files every worktree needs\n.env\n")
    git(path, "add", ".")
    git(path, "commit", "--quiet", "-m", "start")
    (path / ".env").write_text("SECRET=1\n")
    return path


@pytest.fixture
def isolated(orc_config):
    return attrs.evolve(orc_config, plugin_settings={"ORC_ISOLATION": "worktree"})


def worktrees(repo):
    return [
        line
        for line in git(repo, "worktree", "list", "--porcelain").splitlines()
        if line.startswith("worktree ")
    ]


def builders(*parts):
    """A plan of independent builders, one per ``(id, instruction)``."""
    return Plan([Subtask(sid, "builder", instruction) for sid, instruction in parts])


def writes(scripted_model, marker, path, content):
    scripted_model.script(
        [tool("Write", {"file_path": path, "content": content}), text(f"wrote {path}")], match=marker
    )


def edits(scripted_model, marker, new):
    scripted_model.script(
        [
            tool("Read", {"file_path": "app.py"}),
            tool("Edit", {"file_path": "app.py", "old_string": "value = 0", "new_string": new}),
            text("edited app.py"),
        ],
        match=marker,
    )


async def test_parallel_builders_on_different_files_merge_cleanly(isolated, orc_pm, scripted_model, repo):
    writes(scripted_model, "write ONE", "one.py", "ONE = 1\n")
    writes(scripted_model, "write TWO", "two.py", "TWO = 2\n")
    async with Orchestrator(isolated, pm=orc_pm) as orc:
        result = await orc.execute(
            "x", execution_mode="parallel", plan=builders(("b1", "write ONE"), ("b2", "write TWO")), cwd=repo
        )
    assert result.success, result.error
    report = result.reports["orc_worktree"]
    branch = f"orc/{result.task_id}/merged"
    assert report["into"] == branch and report["stop"] is None and report["worktrees"] == "removed"
    agents = {a["subtask"]: a for a in report["agents"]}
    assert {s: (a["files"], a["status"], a["kept"]) for s, a in agents.items()} == {
        "b1": (["one.py"], "merged", False),
        "b2": (["two.py"], "merged", False),
    }
    assert {a["agent"] for a in agents.values()} == {s.agent_id for s in result.subtasks}
    assert (
        git(repo, "show", f"{branch}:one.py") == "ONE = 1"
        and git(repo, "show", f"{branch}:two.py") == "TWO = 2"
    )
    assert ".env" not in git(repo, "ls-tree", "-r", "--name-only", branch)
    # The user's checkout is untouched, nothing of orc's shows in it, and every worktree and merged branch is gone.
    assert git(repo, "status", "--porcelain") == "" and not (repo / "one.py").exists()
    assert worktrees(repo) == [f"worktree {repo}"]
    assert git(repo, "branch", "--list", "orc/*", "--format=%(refname:short)") == branch


async def test_same_lines_edited_stop_the_merge_naming_both_agents(isolated, orc_pm, scripted_model, repo):
    edits(scripted_model, "make it ONE", "value = 1")
    edits(scripted_model, "make it TWO", "value = 2")
    async with Orchestrator(isolated, pm=orc_pm) as orc:
        result = await orc.execute(
            "x", execution_mode="dag", plan=builders(("b1", "make it ONE"), ("b2", "make it TWO")), cwd=repo
        )
    assert result.success, result.error
    report = result.reports["orc_worktree"]
    ids = {s.subtask_id: s.agent_id for s in result.subtasks}
    stop = report["stop"]
    assert stop["kind"] == "conflict" and stop["files"] == ["app.py"]
    assert stop["subtasks"] == ["b2", "b1"] and stop["agents"] == [ids["b2"], ids["b1"]]
    assert ids["b1"] in stop["message"] and ids["b2"] in stop["message"] and "app.py" in stop["message"]
    agents = {a["subtask"]: a for a in report["agents"]}
    assert (agents["b1"]["status"], agents["b2"]["status"], agents["b2"]["kept"]) == (
        "merged",
        "conflict",
        True,
    )
    # The first is merged; the second's branch is kept with its work, and no merge is left half-done anywhere.
    assert git(repo, "show", f"{report['into']}:app.py") == "first = 1\nvalue = 1\nlast = 9"
    assert git(repo, "show", f"orc/{result.task_id}/b2:app.py") == "first = 1\nvalue = 2\nlast = 9"
    assert git(repo, "status", "--porcelain") == "" and worktrees(repo) == [f"worktree {repo}"]


async def test_overlapping_files_stop_unless_overlap_may_merge(
    isolated, orc_pm, scripted_model, repo, monkeypatch
):
    scripted_model.script(
        [
            tool("Read", {"file_path": "app.py"}),
            tool("Edit", {"file_path": "app.py", "old_string": "first = 1", "new_string": "first = 0"}),
            text("top"),
        ],
        match="edit the top",
    )
    scripted_model.script(
        [
            tool("Read", {"file_path": "app.py"}),
            tool("Edit", {"file_path": "app.py", "old_string": "last = 9", "new_string": "last = 10"}),
            text("bottom"),
        ],
        match="edit the bottom",
    )
    plan = builders(("top", "edit the top"), ("bottom", "edit the bottom"))
    async with Orchestrator(isolated, pm=orc_pm) as orc:
        stopped = await orc.execute("x", execution_mode="parallel", plan=plan, cwd=repo)
    # Settings are read when an Orchestrator is made: the environment of the next one lets overlaps merge.
    monkeypatch.setenv("ORC_WORKTREE_OVERLAP", "merge")
    async with Orchestrator(isolated, pm=orc_pm) as orc:
        merged = await orc.execute("x", execution_mode="parallel", plan=plan, cwd=repo)
    stop = stopped.reports["orc_worktree"]["stop"]
    assert stop["kind"] == "overlap" and stop["files"] == ["app.py"] and stop["subtasks"] == ["bottom", "top"]
    assert merged.reports["orc_worktree"]["stop"] is None
    assert git(repo, "show", f"orc/{merged.task_id}/merged:app.py") == "first = 0\nvalue = 0\nlast = 10"


async def test_kept_agents_keep_their_prepared_worktrees_until_deleted(
    orc_config, orc_pm, scripted_model, repo, monkeypatch, tmp_path
):
    monkeypatch.setenv("ORC_WORKTREE_SETUP", "echo prepared > setup.log")
    writes(scripted_model, "write ONE", "one.py", "ONE = 1\n")
    writes(scripted_model, "write TWO", "two.py", "TWO = 2\n")
    config = attrs.evolve(orc_config, plugin_settings={"ORC_ISOLATION": "worktree"}, keep_agents=True)
    async with Orchestrator(config, pm=orc_pm) as orc:
        result = await orc.execute(
            "x", execution_mode="parallel", plan=builders(("b1", "write ONE"), ("b2", "write TWO")), cwd=repo
        )
        report = result.reports["orc_worktree"]
        assert report["worktrees"] == "kept" and len(worktrees(repo)) == 3
        for agent in report["agents"]:
            tree = Path(agent["worktree"])
            assert tree.is_relative_to(tmp_path / "worktrees") and tree.parent.name == result.task_id
            assert (tree / ".env").read_text() == "SECRET=1\n" and (
                tree / "setup.log"
            ).read_text() == "prepared\n"
            assert orc.agents.get(agent["agent"]).cwd == str(tree)
            assert git(tree, "status", "--porcelain") == "?? setup.log"  # the agent's work is committed
        # What the setup step left (the copied .env, setup.log) is never committed.
        assert git(repo, "ls-tree", "-r", "--name-only", report["into"]).split() == [
            ".gitignore",
            ".worktreeinclude",
            "app.py",
            "one.py",
            "two.py",
        ]
    # A later Orchestrator (as `orc agents delete` in a later process) knows the agents only from the store.
    later_pm = make_plugin_manager(environ={"ORC_DISABLE_PLUGIN_AUTOLOAD": "1"})
    async with Orchestrator(config, pm=later_pm) as later:
        for agent in report["agents"]:
            await later.delete_agent(agent["agent"])
    assert worktrees(repo) == [f"worktree {repo}"]
    assert list((tmp_path / "worktrees").iterdir()) == []


async def test_readers_stay_in_the_checkout_and_downstream_agents_work_where_upstream_work_is(
    orc_config, orc_pm, scripted_model, repo, tmp_path
):
    scripted_model.script(
        [tool("Glob", {"pattern": "*.py"}), text("found app.py")], match="scout of the team"
    )
    writes(scripted_model, "builder of the team", "feature.py", "FEATURE = True\n")
    scripted_model.script(
        [tool("Read", {"file_path": "feature.py"}), text("looks fine")], match="reviewer of the team"
    )
    config = attrs.evolve(orc_config, plugin_settings={"ORC_ISOLATION": "worktree", "ORC_MERGE_INTO": "HEAD"})
    async with Orchestrator(config, pm=orc_pm) as orc:
        result = await orc.execute("x", roles=["scout", "builder", "reviewer"], cwd=repo)
        cwds = {a.role: a.cwd for a in orc.list_agents()}
    assert result.success, result.error
    assert cwds["scout"] == str(repo)
    assert (
        Path(cwds["builder"]).is_relative_to(tmp_path / "worktrees") and cwds["reviewer"] == cwds["builder"]
    )
    review = [r for r in scripted_model.requests if "FEATURE = True" in json.dumps(r.tool_results)]
    assert review, "the reviewer read what the builder wrote"
    report = result.reports["orc_worktree"]
    assert [(a["role"], a["files"], a["status"]) for a in report["agents"]] == [
        ("builder", ["feature.py"], "merged"),
        ("reviewer", [], "merged"),
    ]
    # --merge-into HEAD: the checked-out branch moved forward, working tree included.
    assert report["into"] == "main" and (repo / "feature.py").read_text() == "FEATURE = True\n"
    assert git(repo, "status", "--porcelain") == ""


async def test_outside_a_git_repository_is_a_usage_error_before_any_agent(
    isolated, orc_pm, scripted_model, orc_workdir, monkeypatch
):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(orc_workdir.parent))
    async with Orchestrator(isolated, pm=orc_pm) as orc:
        # The core unwraps it from the executor's task group: the caller gets the UsageError itself.
        with pytest.raises(
            UsageError, match=r"--isolation worktree needs a git repository, and .* is not in one"
        ):
            await orc.execute("x", roles=["scout", "builder"], cwd=orc_workdir)
    assert scripted_model.requests == []


async def test_hook_orc_worktree_isolate(isolated, orc_pm, scripted_model, repo, tmp_path):
    class ReviewersToo:
        @hookimpl
        def orc_worktree_isolate(self, task, subtask, role, config):
            return subtask.role == "reviewer" or None

    scripted_model.script([text("read")], match="reviewer of the team")
    orc_pm.register(ReviewersToo())
    async with Orchestrator(isolated, pm=orc_pm) as orc:
        result = await orc.execute("x", roles=["reviewer"], cwd=repo)
        (reviewer,) = orc.list_agents()
    assert Path(reviewer.cwd).is_relative_to(tmp_path / "worktrees")
    assert result.reports["orc_worktree"]["agents"][0]["status"] == "no changes"
    assert git(repo, "branch", "--list", "orc/*") == ""  # nothing to merge, nothing to keep


async def test_hook_orc_worktree_setup(isolated, orc_pm, scripted_model, repo):
    seen = []

    class OwnSetup:
        @hookimpl
        def orc_worktree_setup(self, worktree, source, task, subtask, config):
            seen.append((subtask.id, source))
            (worktree / "local.cfg").write_text("mine\n")
            return ["local.cfg"]

    scripted_model.script(
        [tool("Read", {"file_path": "local.cfg"}), text("read it")], match="builder of the team"
    )
    orc_pm.register(OwnSetup())
    async with Orchestrator(isolated, pm=orc_pm) as orc:
        result = await orc.execute("x", roles=["builder"], cwd=repo)
    assert seen == [(result.subtasks[0].subtask_id, repo)]
    reads = [r for r in scripted_model.requests if "mine" in json.dumps(r.tool_results)]
    assert reads, "the builder read the file the replacement setup wrote"
    assert result.reports["orc_worktree"]["agents"][0]["files"] == []  # neither local.cfg nor a copied .env


async def test_without_the_plugin_isolation_does_nothing(isolated, scripted_model, repo):
    writes(scripted_model, "builder of the team", "one.py", "ONE = 1\n")
    pm = make_plugin_manager(["no:orc_worktree"], environ={"ORC_DISABLE_PLUGIN_AUTOLOAD": "1"})
    async with Orchestrator(isolated, pm=pm) as orc:
        result = await orc.execute("x", roles=["builder"], cwd=repo)
    assert result.success and result.reports == {}
    assert (repo / "one.py").read_text() == "ONE = 1\n"


def test_orc_execute_scripted_merges_into_the_task_branch(tmp_path, repo):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ANTHROPIC_", "CLAUDE_", "ORCHESTRATOR_", "ORC_"))
    }
    env.update(
        HOME=str(tmp_path / "home"),
        ORC_DISABLE_PLUGIN_AUTOLOAD="1",
        ORC_SCRIPTED_HOME=str(tmp_path / "cc"),
        ORCHESTRATOR_DB_PATH=str(tmp_path / "orc.db"),
    )
    done = subprocess.run(
        [
            str(BIN / "orc"),
            "execute",
            "--scripted",
            "--isolation",
            "worktree",
            "--roles",
            "builder",
            "--json",
            "Add CSV export",
        ],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    branch = result["reports"]["orc_worktree"]["into"]
    assert branch == f"orc/{result['task_id']}/merged"
    assert "def export" in git(repo, "show", f"{branch}:add_csv_export.py")
    assert not (repo / "add_csv_export.py").exists() and worktrees(repo) == [f"worktree {repo}"]


def test_the_summary_says_where_the_change_is_and_how_to_take_it(tmp_path, repo):
    """``into=orc/task-.../merged`` told nobody that the change is on a branch (#20): the summary line says so, and
    the git command it gives, run as printed, brings the change into the checkout."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ANTHROPIC_", "CLAUDE_", "ORCHESTRATOR_", "ORC_"))
    }
    env.update(
        HOME=str(tmp_path / "home"),
        ORC_DISABLE_PLUGIN_AUTOLOAD="1",
        ORC_SCRIPTED_HOME=str(tmp_path / "cc"),
        ORCHESTRATOR_DB_PATH=str(tmp_path / "orc.db"),
    )
    command = [str(BIN / "orc"), "execute", "--scripted", "--isolation", "worktree", "--roles", "builder"]
    done = subprocess.run(
        [*command, "-q", "Add CSV export"], cwd=repo, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    task_id = done.stdout.split()[4]
    branch = f"orc/{task_id}/merged"
    line = next(line for line in done.stdout.splitlines() if line.startswith("orc_worktree: "))
    assert line == (
        f"orc_worktree: the agents' changes are on the branch {branch}, not in your checkout: take them "
        f"with `git merge {branch}` (in {repo})"
    )
    assert not (repo / "add_csv_export.py").exists()
    take = line.split("`")[1].split()
    subprocess.run(take, cwd=repo, check=True, capture_output=True)
    assert "def export" in (repo / "add_csv_export.py").read_text()

    # Merged into the branch checked out: the change is there already, and the line says so.
    (repo / "add_csv_export.py").unlink()
    git(repo, "rm", "--quiet", "--cached", "add_csv_export.py")
    git(repo, "commit", "--quiet", "-m", "drop it")
    again = subprocess.run(
        [*command, "--merge-into", "HEAD", "-q", "Add CSV export"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    assert f"orc_worktree: the agents' changes are merged into main, checked out in {repo}\n" in again.stdout
    assert "def export" in (repo / "add_csv_export.py").read_text()


def test_orc_execute_outside_a_repository_says_so_in_one_line(tmp_path, orc_workdir):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ANTHROPIC_", "CLAUDE_", "ORCHESTRATOR_", "ORC_"))
    }
    env.update(
        HOME=str(tmp_path / "home"),
        ORC_DISABLE_PLUGIN_AUTOLOAD="1",
        ORC_SCRIPTED_HOME=str(tmp_path / "cc"),
        ORCHESTRATOR_DB_PATH=str(tmp_path / "orc.db"),
        GIT_CEILING_DIRECTORIES=str(tmp_path),
    )
    done = subprocess.run(
        [str(BIN / "orc"), "execute", "--scripted", "--isolation", "worktree", "--roles", "builder", "x"],
        cwd=orc_workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip().splitlines()[-1].startswith("Error: --isolation worktree needs a git repository")
    )
