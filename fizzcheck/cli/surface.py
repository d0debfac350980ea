"""``fizzcheck surface``: the declared API surface, and which of it a run exercised.

Without result files it lists the catalogue (:mod:`fizzcheck.surface.catalogue`): each family,
its dimensions and how many cells it declares. With property result files it shows, per
family, how many declared cells the runs exercised and with how few examples, then every cell
no example reached. ``--require-all`` makes an unexercised cell exit 1: the check CI runs after
the ci-profile suite. Cells that need a device the runs did not have (``module[api=cuda]`` on a
CPU-only machine) are NOT AVAILABLE, not gaps.
"""

from __future__ import annotations

import click

from fizzcheck.surface import CATALOGUE, coverage, family_lines

__all__ = ["surface"]

SURFACE_OK, SURFACE_GAPS = 0, 1


def _catalogue_lines() -> list[str]:
    lines = []
    total = 0
    for fam in CATALOGUE:
        cells = fam.cell_ids()
        total += len(cells)
        crossing = " ; ".join(" × ".join(c) for c in fam.all_crossings())
        lines.append(f"{fam.name}: {len(cells)} cells ({crossing})")
        lines.append(f"    {fam.doc}")
        for dim, values in fam.dims.items():
            lines.append(f"    {dim}: {', '.join(values)}")
    lines.append(f"{total} cells declared in {len(CATALOGUE)} families")
    return lines


@click.command(short_help="the declared API surface, and the cells a run exercised (--require-all: exit 1 on a gap)")
@click.argument("results", nargs=-1, metavar="[FILE_OR_DIR]...")
@click.option("--require-all", is_flag=True, help="exit 1 if a declared cell was never exercised")
@click.option("--cells", "show_cells", is_flag=True, help="list every cell with its examples, not only the gaps")
def surface(results: tuple[str, ...], require_all: bool, show_cells: bool) -> int:
    """List the declared API surface, or, given property result files (directories are searched for
    *.json), how many examples exercised each declared cell.

    Exit status 1 with --require-all when a declared cell was never exercised; 2 on bad input.
    """
    if not results:
        if require_all:
            raise click.UsageError("--require-all needs property result files")
        for line in _catalogue_lines():
            click.echo(line)
        return SURFACE_OK
    from fizzcheck.report.load import load_results

    loaded = load_results(list(results))
    if loaded.verification.empty:
        raise click.UsageError(
            "no property results among the files: surface coverage comes from `fizzcheck verify` runs"
        )
    if not loaded.surface:
        raise click.UsageError(
            "the property results record no surface coverage (written by a fizzcheck without the surface catalogue)"
        )
    devices = {str(d) for d in loaded.verification["device"].dropna().unique()} or {"cpu"}
    cells = coverage(loaded.surface, devices)
    click.echo(f"{'family':<14} {'cells':>5} {'exercised':>9} {'gaps':>5} {'n/a':>4} {'fewest examples':>15}")
    for name, declared, exercised, gaps, unavailable, fewest in family_lines(cells):
        click.echo(f"{name:<14} {declared:>5} {exercised:>9} {gaps:>5} {unavailable:>4} {fewest:>15}")
    shown = cells if show_cells else [c for c in cells if c.status != "exercised"]
    for c in shown:
        label = {"exercised": f"{c.examples} examples", "not exercised": "NOT EXERCISED"}.get(c.status, "NOT AVAILABLE")
        click.echo(f"  {c.cell}: {label}")
    gaps = sum(c.status == "not exercised" for c in cells)
    exercised = sum(c.status == "exercised" for c in cells)
    click.echo(f"surface: {exercised} of {len(cells)} declared cells exercised; {gaps} not exercised")
    return SURFACE_GAPS if (require_all and gaps) else SURFACE_OK
