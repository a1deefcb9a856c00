"""smartcron(1), written from the command tree itself: every visible command with its usage,
its help and its options as click formats them for --help, so the page cannot drift from the
CLI. install.sh runs `python -m smartcron.cli.manpage > /usr/share/man/man1/smartcron.1`.

Not a command (it lists none in cli/lazy.py): it is run at install time, and importing it loads
every command.
"""

from __future__ import annotations

import inspect
import sys
import textwrap
from collections.abc import Iterator

import click

from smartcron import __version__

SEE_ALSO = r"\fBsystemd.timer\fR(5), \fBsystemd.time\fR(7), \fBcrontab\fR(5), \fBjournalctl\fR(1)"


def escape(text: str) -> str:
    """Given plain text, return it as roff text: backslashes kept, dashes as typed (copy and
    paste of options works), no line taken for a request."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(
        ("\\&" + line) if line.startswith((".", "'")) else line for line in text.split("\n")
    )


def _help_text(command: click.Command) -> str:
    """Return a command's help as click shows it: up to a form feed, dedented."""
    text = inspect.cleandoc(command.help or "")
    return text.split("\f", 1)[0].strip()


def paragraphs(text: str) -> Iterator[str]:
    """Given click help text, yield roff: wrapped paragraphs, and the `\\b` blocks click keeps
    as they are (examples) verbatim."""
    for block in text.split("\n\n"):
        lines = block.strip("\n").split("\n")
        if lines and lines[0].strip() == "\b":
            body = textwrap.dedent("\n".join(lines[1:])).strip("\n")
            yield ".PP\n.nf\n.RS 4\n" + escape(body) + "\n.RE\n.fi"
        elif block.strip():
            yield ".PP\n" + escape(" ".join(line.strip() for line in lines))


def _options(command: click.Command, ctx: click.Context) -> Iterator[str]:
    """Yield the options (and their help) of a command, as --help lists them; --help itself
    only once, for the top level."""
    for param in command.get_params(ctx):
        help_option = command.get_help_option(ctx)
        if not isinstance(param, click.Option) or (ctx.parent and param is help_option):
            continue
        record = param.get_help_record(ctx)
        if record is None:
            continue
        names, help_text = record
        yield f".TP\n.B {escape(names)}\n{escape(help_text) if help_text else ''}".rstrip()


def walk(
    command: click.Command, ctx: click.Context
) -> Iterator[tuple[click.Command, click.Context]]:
    """Yield every visible command below `command` (depth first, in --help order) with its
    context."""
    if not isinstance(command, click.Group):
        return
    for name in command.list_commands(ctx):
        sub = command.get_command(ctx, name)
        if sub is None or sub.hidden:
            continue
        sub_ctx = sub.make_context(name, [], parent=ctx, resilient_parsing=True)
        yield sub, sub_ctx
        yield from walk(sub, sub_ctx)


def _section(command: click.Command, ctx: click.Context) -> str:
    usage = " ".join(command.collect_usage_pieces(ctx))
    parts = [f'.SS "{escape(ctx.command_path)} {escape(usage)}"']
    parts += list(paragraphs(_help_text(command)))
    parts += list(_options(command, ctx))
    return "\n".join(parts)


def render(root: click.Group) -> str:
    """Given the top-level group, return the whole page in roff (man macros)."""
    # make_context applies the group's context settings (-h as well as --help).
    ctx = root.make_context("smartcron", [], resilient_parsing=True)
    summary = _help_text(root).split("\n", 1)[0].removeprefix("smartcron: ")
    out = [
        f'.TH SMARTCRON 1 "" "smartcron {__version__}" "smartcron manual"',
        # No hyphenation: a word broken at a line end would read as an option's dash.
        ".nh",
        ".ad l",
        ".SH NAME",
        f"smartcron \\- {escape(summary)}",
        ".SH SYNOPSIS",
        ".B smartcron",
        r"[\fIOPTIONS\fR] \fICOMMAND\fR [\fIARGS\fR]...",
        ".SH DESCRIPTION",
        *paragraphs(_help_text(root).split("\n", 1)[1] if "\n" in _help_text(root) else ""),
        ".PP",
        "Every command prints its own help with \\fB\\-\\-help\\fR; this page is made from it.",
        ".SH OPTIONS",
        *_options(root, ctx),
        ".SH COMMANDS",
        *(_section(command, sub_ctx) for command, sub_ctx in walk(root, ctx)),
        ".SH EXIT STATUS",
        "0 ok, 1 the operation failed, 2 invalid input. Errors are one line on standard error"
        " that says what went wrong and what to do next.",
        ".SH ENVIRONMENT",
        ".TP",
        ".B SMARTCRON_CONFIG",
        "The configuration file, instead of /etc/smartcron/smartcron.toml.",
        ".TP",
        ".B SMARTCRON_\\fINAME\\fR",
        "Overrides the setting \\fIname\\fR of the file (\\fBsmartcron config show\\fR says"
        " where each value comes from).",
        ".SH FILES",
        ".TP",
        ".B /etc/smartcron/smartcron.toml",
        "The settings (docs/configuration.md).",
        ".SH SEE ALSO",
        SEE_ALSO,
    ]
    return "\n".join(out) + "\n"


def main() -> None:
    """Print smartcron(1) on standard output."""
    from smartcron.cli import cli

    sys.stdout.write(render(cli))


if __name__ == "__main__":
    main()
