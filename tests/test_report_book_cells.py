"""The book's executed notebooks: code hidden one click away, no stderr or local paths, captions."""

import nbformat

from repro.report.book_cells import prepare_for_book


def _notebook():
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("evaluate()")
    code.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="run folder: /checkout/book/results/runs/x\n"),
        nbformat.v4.new_output("stream", name="stderr", text="/checkout/repro/m.py:93: SampleSizeWarning: 500\n"),
        nbformat.v4.new_output("display_data", data={"image/png": "iVBOR", "text/plain": "<Figure>"},
                               metadata={"image/png": {"caption": "Fashion-MNIST, N = 64"}}),
    ]
    table = nbformat.v4.new_code_cell("frame")
    table.outputs = [nbformat.v4.new_output("execute_result", execution_count=1,
                                            data={"text/html": "<table><thead><tr><th></th><th>fd</th></tr></thead>"
                                                               "<tbody><tr><th>0</th><td>NaN</td></tr></tbody></table>"})]
    params = nbformat.v4.new_code_cell("profile = None", metadata={"tags": ["parameters"]})
    hidden = nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["remove-cell"]})
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"), params, code, table, hidden]
    return nb


def test_every_code_cell_is_hidden_but_one_click_away():
    nb = prepare_for_book(_notebook(), root="/checkout")
    assert "hide-input" in nb.cells[1].metadata.tags and "parameters" in nb.cells[1].metadata.tags
    assert "hide-input" in nb.cells[2].metadata.tags
    assert "hide-input" in nb.cells[3].metadata.tags and nb.cells[4].metadata.tags == ["remove-cell"]
    assert "tags" not in nb.cells[0].metadata


def test_stderr_is_dropped_and_local_paths_made_relative():
    nb = prepare_for_book(_notebook(), root="/checkout")
    outputs = nb.cells[2].outputs
    assert [o.get("name") for o in outputs if o.output_type == "stream"] == ["stdout"]
    assert outputs[0].text == "run folder: book/results/runs/x\n"


def test_caption_attached_to_an_image_becomes_the_cell_figure_caption():
    nb = prepare_for_book(_notebook(), root="/checkout")
    assert nb.cells[2].metadata["mystnb"]["figure"]["caption"] == "Fashion-MNIST, N = 64"
    assert "caption" not in nb.cells[2].outputs[1].metadata["image/png"]


def test_dataframe_html_loses_nan_and_range_index_but_no_number_changes():
    nb = prepare_for_book(_notebook(), root="/checkout")
    html = nb.cells[3].outputs[0].data["text/html"]
    assert "NaN" not in html and "<th>0</th>" not in html


def test_preparing_twice_changes_nothing_more():
    once = prepare_for_book(_notebook(), root="/checkout")
    twice = prepare_for_book(nbformat.from_dict(once), root="/checkout")
    assert nbformat.writes(once) == nbformat.writes(twice)


def test_caption_links_are_rebased_from_the_kernel_folder_to_the_book_page(tmp_path):
    nb = _notebook()
    nb.cells[2].outputs[2].metadata["image/png"]["caption"] = "Run record: [m](../book/results/runs/x/manifest.json)."
    prepare_for_book(nb, cwd=tmp_path / "notebooks", out_dir=tmp_path / "book" / "results")
    assert nb.cells[2].metadata["mystnb"]["figure"]["caption"] == "Run record: [m](runs/x/manifest.json)."


def test_markdown_table_links_are_rebased_once_onto_the_book_page(tmp_path):
    (tmp_path / "book" / "results" / "runs" / "x").mkdir(parents=True)
    (tmp_path / "book" / "results" / "runs" / "x" / "evaluation.json").write_text("{}")
    (tmp_path / "notebooks").mkdir()
    nb = _notebook()
    table = "| source |\n| --- |\n| [x](../book/results/runs/x/evaluation.json) |\n"
    nb.cells[3].outputs.append(nbformat.v4.new_output("execute_result", data={"text/markdown": table},
                                                      execution_count=1))
    kw = dict(cwd=tmp_path / "notebooks", out_dir=tmp_path / "book" / "results")
    prepare_for_book(nb, **kw)
    assert "[x](runs/x/evaluation.json)" in nb.cells[3].outputs[-1].data["text/markdown"]
    prepare_for_book(nb, **kw)
    assert "[x](runs/x/evaluation.json)" in nb.cells[3].outputs[-1].data["text/markdown"]


def test_papermills_absolute_input_path_is_made_relative_to_the_checkout(tmp_path):
    import nbformat

    from repro.report.book_cells import prepare_for_book

    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"input_path": str(tmp_path / "checkout" / "notebooks" / "x.ipynb"),
                                "output_path": str(tmp_path / "elsewhere" / "results" / "x.ipynb")}
    prepare_for_book(nb, root=str(tmp_path / "checkout"))
    assert nb.metadata["papermill"]["input_path"] == "notebooks/x.ipynb"
    assert nb.metadata["papermill"]["output_path"] == "x.ipynb"  # outside the checkout: its name alone


def test_each_of_several_figures_in_a_cell_keeps_its_own_caption(tmp_path):
    nb = _notebook()
    code = nb.cells[2]
    second = nbformat.v4.new_output("display_data", data={"image/png": "iVBOR", "text/plain": "<Figure>"},
                                    metadata={"image/png": {"caption": "Run record: [../book/results/runs/y/m.json]"
                                                                       "(../book/results/runs/y/m.json)."}})
    code.outputs.append(second)
    prepare_for_book(nb, cwd=tmp_path / "notebooks", out_dir=tmp_path / "book" / "results")
    assert [c.get("id", "").endswith("-out1") for c in nb.cells].count(True) == 1
    first, split = nb.cells[2], nb.cells[3]
    assert first.metadata["mystnb"]["figure"]["caption"] == "Fashion-MNIST, N = 64"
    assert split.metadata["mystnb"]["figure"]["caption"] == "Run record: [runs/y/m.json](runs/y/m.json)."
    assert split.metadata["tags"] == ["remove-input"] and split.source.startswith("#")  # myst-nb drops empty cells
    assert sum("image/png" in o.get("data", {}) for o in first.outputs) == 1
    assert [o.get("data", {}).get("image/png") for o in split.outputs] == ["iVBOR"]
    nbformat.validate(nb)
    prepare_for_book(nb)  # preparing again changes nothing more
    assert len(nb.cells) == 6 and split.metadata["mystnb"]["figure"]["caption"].startswith("Run record")


def test_a_table_shown_before_a_figure_keeps_no_caption_and_each_figure_its_own():
    """myst-nb would wrap every displayed output of a captioned cell in a figure with that caption."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("show()")
    figure = lambda caption: nbformat.v4.new_output(  # noqa: E731
        "display_data", data={"image/png": "iVBOR", "text/plain": "<Figure>"}, metadata={"image/png": {"caption": caption}})
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/markdown": "| a |\n| - |\n| 1 |\n"}),
                    figure("GAN"), figure("DDPM"), nbformat.v4.new_output("stream", name="stdout", text="done\n")]
    nb.cells = [cell]
    prepare_for_book(nb)
    kept, gan, ddpm = nb.cells
    assert "mystnb" not in kept.metadata and [list(o.data) for o in kept.outputs] == [["text/markdown"]]
    assert gan.metadata["mystnb"]["figure"]["caption"] == "GAN" and len(gan.outputs) == 1
    assert ddpm.metadata["mystnb"]["figure"]["caption"] == "DDPM"
    assert [o.output_type for o in ddpm.outputs] == ["display_data", "stream"]  # printed text is never wrapped


def test_the_input_notebook_papermill_records_becomes_its_path():
    nb = _notebook()
    nb.metadata["papermill"] = {"input_path": {"cells": [], "metadata": {}}}  # papermill handed a notebook
    nb = prepare_for_book(nb, root="/checkout", source="notebooks/train_gan.ipynb")
    assert nb.metadata["papermill"]["input_path"] == "notebooks/train_gan.ipynb"


def test_stored_outputs_name_no_temporary_folder_of_the_machine():
    import tempfile

    from repro.report.book_cells import scrub_temporary_folders

    nb = _notebook()
    tmp = tempfile.gettempdir()
    nb.cells[2].outputs[0].text = f"run folder: {tmp}/toy_modes-smoke-x1y2/run\n"
    nb.cells[3].outputs[0].data["text/markdown"] = f"Run record: [{tmp}/ab_c.9/m.json]({tmp}/ab_c.9/m.json)"
    nb.cells[2].outputs[2].metadata["image/png"]["caption"] = f"Run record: {tmp}/x/m.json"
    nb = scrub_temporary_folders(nb)
    assert nb.cells[2].outputs[0].text == "run folder: TMPDIR/run\n"
    assert nb.cells[2].outputs[2].metadata["image/png"]["caption"] == "Run record: TMPDIR/m.json"
    assert nb.cells[3].outputs[0].data["text/markdown"] == "Run record: [TMPDIR/m.json](TMPDIR/m.json)"


def test_a_figure_wider_than_the_column_gets_the_page_width_and_a_narrow_one_does_not():
    nb = nbformat.v4.new_notebook()
    wide, narrow = nbformat.v4.new_code_cell("montage()"), nbformat.v4.new_code_cell("curve()")
    wide.outputs = [nbformat.v4.new_output("display_data", data={"image/png": "iVBOR"},
                                           metadata={"image/png": {"caption": "grids", "wide": True}})]
    narrow.outputs = [nbformat.v4.new_output("display_data", data={"image/png": "iVBOR"},
                                             metadata={"image/png": {"caption": "curve"}})]
    nb.cells = [wide, narrow]
    nb = prepare_for_book(nb)
    assert "full-width" in nb.cells[0].metadata.tags and "full-width" not in nb.cells[1].metadata.tags
    assert "wide" not in nb.cells[0].outputs[0].metadata["image/png"]


def test_names_of_figures_and_tables_are_made_unique_by_their_page_once():
    """``plotting.show(..., name=)`` and ``captioned(..., name=)`` name a figure and a table on their page;
    the book knows them as ``page:name``, so that two pages of one notebook (collapse, collapse-cifar10)
    can both have a "summary" that the claims table cites."""
    from repro.report.tables import Table

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("show()")
    table = Table([{"fd": 1.0}], caption="FD, N = 1,000", name="summary")._repr_markdown_()
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/markdown": table}),
                    nbformat.v4.new_output("display_data", data={"image/png": "iVBOR", "text/plain": "<Figure>"},
                                           metadata={"image/png": {"caption": "curves", "name": "curves"}})]
    nb.cells = [cell]
    prepare_for_book(nb, page="collapse-cifar10")
    kept, figure = nb.cells
    assert ":name: collapse-cifar10:summary\n" in kept.outputs[0].data["text/markdown"]
    assert figure.metadata["mystnb"]["figure"] == {"caption": "curves", "name": "collapse-cifar10:curves"}
    before = nbformat.writes(nb)
    prepare_for_book(nb, page="collapse-cifar10")
    assert nbformat.writes(nb) == before  # a page already prefixed is not prefixed again
