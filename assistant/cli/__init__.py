"""The `gdpr-assistant` command line: one click group, a module per command family.

    corpus.py  corpus import-eurlex | fetch | check      index.py  index
    ask.py     ask, eval                                  db.py     db upgrade | check | revision
    purge.py   purge (the retention registry)            serve.py  serve
    users.py   users create | list | disable            keys.py   keys rotate | generate
    jobs.py    worker, jobs run-periodic | list
    partners.py partners load-demo | list                models.py models prepare

Commands build the services they need with ``assistant.container``. Every error ends as one line on
standard error and a non-zero exit code (2 for bad input or settings, 1 otherwise).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..config import Settings
from ..errors import AssistantError


class AssistantGroup(click.Group):
    """The command group; turns every error into one line and an exit code, under CliRunner too."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        """Run a command; exit (standalone) or return its exit code."""
        code = self._run(args, prog_name or "gdpr-assistant", complete_var, **extra)
        if standalone_mode:
            sys.exit(code)
        return code

    def _run(self, args, prog_name, complete_var, **extra) -> int:
        try:
            rv = super().main(args=args, prog_name=prog_name, complete_var=complete_var, standalone_mode=False,
                              **extra)
        except click.UsageError as e:
            cmd = e.ctx.command_path if e.ctx else prog_name
            click.echo(f"Error: {e.format_message()} (see `{cmd} --help`)", err=True)
            return e.exit_code
        except click.ClickException as e:
            click.echo(f"Error: {e.format_message()}", err=True)
            return e.exit_code
        except click.exceptions.Abort:
            click.echo("Aborted.", err=True)
            return 1
        except AssistantError as e:
            click.echo(f"Error: {e.message}", err=True)
            return e.exit_code
        except KeyboardInterrupt:
            return 130
        return rv if isinstance(rv, int) else 0


@click.group("gdpr-assistant", cls=AssistantGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory holding all state (default: ASSISTANT_DATA_DIR or ./data).")
@click.version_option(package_name="gdpr-assistant")
@click.pass_context
def cli(ctx, data_dir):
    """GDPR assistant: grounded answers about the GDPR (RGPD), with citations."""
    ctx.ensure_object(dict)
    ctx.obj["settings"] = Settings.from_env(data_dir=data_dir)


def settings_of(ctx: click.Context) -> Settings:
    """The settings the group read for this invocation."""
    return ctx.obj["settings"]


def main(argv=None) -> int:
    """Entry point of the console script: runs a command and returns its exit code."""
    return cli.main(args=argv, standalone_mode=False)


from . import ask, corpus, db, index, jobs, keys, models, newsletter, partners, purge, serve, users  # noqa: E402  (each registers its commands on `cli`)

__all__ = ["ask", "cli", "corpus", "db", "index", "jobs", "keys", "main", "models", "newsletter", "partners", "purge", "serve", "settings_of",
           "users"]
