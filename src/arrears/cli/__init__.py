"""The ``arrears`` command line: parse, call the service, show the result. Each command module
adds its commands to :data:`arrears.cli.common.app`; this package imports them all, so
``arrears`` (the console script) and ``python -m arrears`` see every command.

The command modules import :mod:`arrears.cli.common` and the service, never each other's
commands (``case_commands`` adds to the ``payment`` group ``channel_commands`` declares)."""

import importlib

from arrears.cli.common import app

#: the command modules, in the order ``arrears --help`` lists their commands
COMMANDS = ("store_commands", "channel_commands", "case_commands", "cycle_commands",
            "staff_commands", "call_commands", "learn_commands")  # fmt: skip
for _name in COMMANDS:
    importlib.import_module(f"arrears.cli.{_name}")

__all__ = ["app", "main"]


def main() -> None:  # pragma: no cover - console entry
    app()
