"""compare's table: the shown columns, each run by its folder's name, numbers rounded."""

from __future__ import annotations

from mnist_vae.evaluation.comparison import SHOWN, Comparison, comparison_table


def test_the_table_shows_each_run_by_name_with_rounded_numbers():
    row = dict.fromkeys(SHOWN)
    row.update({"run": "runs/a/net1", "arch": "net1", "z": 2, "-ELBO": 140.1234, "FD": 1.23456})
    table = comparison_table(Comparison(rows=[row], warnings=[]))
    cells = {column.header: list(column.cells) for column in table.columns}
    assert list(cells) == list(SHOWN)
    assert cells["run"] == ["net1"] and cells["z"] == ["2"]
    assert cells["-ELBO"] == ["140.12"] and cells["FD"] == ["1.235"] and cells["IWAE"] == ["-"]
