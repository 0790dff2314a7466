"""``--help`` with the options in titled sections, for commands with many of them."""

from __future__ import annotations

from collections.abc import Callable

import click

# Where an option no section names is listed (a test keeps it empty for ``train``).
UNSECTIONED = "Other options"


class SectionedCommand(click.Command):
    """A command whose help lists its options under section titles.

    ``help_sections`` returns ``{title: [parameter name, ...]}`` in the order shown;
    it is called when the help is written, so sections may list options generated
    elsewhere (the strategies' flags). ``--help`` itself is named ``help`` there
    (click names it otherwise). An option it leaves out is listed last, under
    ``UNSECTIONED``; ``unsectioned`` names those, for tests. ``option_sections`` is the
    grouping the help shows (docs/cli.md is rendered from it too).
    """

    def __init__(self, *args, help_sections: Callable[[], dict[str, list[str]]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.help_sections = help_sections

    def _documented(self, ctx: click.Context) -> list[tuple[str, click.Parameter]]:
        """(name, parameter) of each option shown in the help, in declaration order."""
        help_option = self.get_help_option(ctx)
        return [
            ("help" if param is help_option else param.name, param)
            for param in self.get_params(ctx)
            if isinstance(param, click.Option) and param.get_help_record(ctx) is not None
        ]

    def unsectioned(self, ctx: click.Context) -> list[str]:
        """The options with help that no section lists."""
        listed = {name for names in self.help_sections().values() for name in names}
        return [name for name, _ in self._documented(ctx) if name not in listed]

    def option_sections(self, ctx: click.Context) -> list[tuple[str, list[click.Parameter]]]:
        """(title, options in the order shown) of each section with options, in order."""
        sections = self.help_sections()
        title_of = {name: title for title, names in sections.items() for name in names}
        order = {name: index for names in sections.values() for index, name in enumerate(names)}
        grouped: dict[str, list[tuple[int, click.Parameter]]] = {}
        for position, (name, param) in enumerate(self._documented(ctx)):
            title = title_of.get(name, UNSECTIONED)
            grouped.setdefault(title, []).append((order.get(name, position), param))
        return [
            (title, [param for _, param in sorted(grouped[title], key=lambda p: p[0])])
            for title in [*sections, UNSECTIONED]
            if grouped.get(title)
        ]

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        sections = [
            (title, [param.get_help_record(ctx) for param in params])
            for title, params in self.option_sections(ctx)
        ]
        # One first-column width for all sections, so their help texts line up.
        width = min(max((len(r[0]) for _, rows in sections for r in rows), default=0), 30)
        for title, rows in sections:
            with formatter.section(title):
                formatter.write_dl([(term.ljust(width), text) for term, text in rows])
