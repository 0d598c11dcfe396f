"""Author-year labels for the bibliography, matching the author-year citations in the text.

A pybtex formatting style ``author_year``: the ``plain`` style with labels such as "Ho et al. 2020",
"Dhariwal and Nichol 2021" or "NVIDIA 2022" instead of numbers. Selected in ``_config.yml`` with
``bibtex_default_style: author_year``.
"""

from __future__ import annotations

from pybtex.plugin import register_plugin
from pybtex.style.formatting.plain import Style as Plain
from pybtex.style.labels import BaseLabelStyle


def author_year_label(entry) -> str:
    """"A 2020", "A and B 2020" or "A et al. 2020" from the entry's authors (or editors) and year."""
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [" ".join(n.render_as("text") for n in p.rich_last_names) for p in people if str(p) != "others"]
    if not names:
        who = entry.fields.get("title", entry.key)
    elif len(names) == 1 and len(people) == 1:
        who = names[0]
    elif len(names) == 2 and len(people) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who} {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabels(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        for entry in sorted_entries:
            yield author_year_label(entry)


class AuthorYear(Plain):
    default_label_style = AuthorYearLabels


def setup(app):
    register_plugin("pybtex.style.formatting", "author_year", AuthorYear)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
