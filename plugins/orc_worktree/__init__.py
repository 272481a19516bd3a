"""Git worktrees for writing agents (``--isolation worktree``), merged after the task. Disable with
``-p no:orc_worktree``."""
