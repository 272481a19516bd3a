"""orc's built-in plugins, under a package that is orc's own (the ``orc-agents`` distribution's name).

Each subpackage is a plugin written as a third party would write one, registered under its own name
(``orc_store``, ``orc_monitor``, ...): ``-p no:orc_store`` disables it. A third-party distribution cannot replace one
by shipping a top-level package of the same name; one that ships files into this package is reported at start-up.
"""
