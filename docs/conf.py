"""Sphinx configuration of the reservoir-engine documentation (``make docs``)."""

from __future__ import annotations

import os
import re
import sys
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # a checkout imports `reservoir` from its root
sys.path.insert(0, str(HERE / "_ext"))
os.environ.setdefault("MPLBACKEND", "Agg")

import reservoir  # noqa: E402

project = "reservoir-engine"
author = "reservoir-engine contributors"
copyright = "2026, reservoir-engine contributors"
release = reservoir.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "mdtable",
]

templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "**/*.md5",
    "**/*.codeobj.json",
    "sg_execution_times.rst",
    "examples",
]  # the gallery's sources; sphinx-gallery renders them into auto_examples/
default_role = "literal"
nitpicky = False

# --- API reference -------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": True, "undoc-members": False}
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
# numpydoc: the class templates list members with autodoc, so numpydoc's own member
# tables would document every method twice.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks: set[str] = set()
numpydoc_xref_param_type = False
# numpydoc also parses docstrings for signatures, outside the hook below that turns a
# section it does not know into a Notes section; its warning there is about text the
# rendered page keeps.
warnings.filterwarnings("ignore", message=r"Unknown section Modes", category=UserWarning)


# --- gallery -------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",  # every example runs at build time
    "ignore_pattern": r"__init__\.py",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "reset_modules": ("matplotlib",),
    "show_memory": False,
    "plot_gallery": "True",
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
}

# --- HTML ------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"reservoir-engine {release}"
html_static_path: list[str] = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "navbar_align": "left",
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    "secondary_sidebar_items": ["page-toc"],
}
html_sidebars = {"index": [], "auto_examples/index": []}
html_show_sourcelink = False


def _skip_member(app, what, name, obj, skip, options):
    """Leave out scikit-learn's generated metadata-routing setters (``set_fit_request``...):
    they are scikit-learn's API, documented there, and their docstrings point into
    scikit-learn's own glossary."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


_SECTION_WITH_ENTRIES = {"Parameters", "Other Parameters", "Attributes", "Returns", "Yields", "Raises"}
_ENTRY = re.compile(r"^\*{0,2}\w+(\s*,\s*\*{0,2}\w+)*\s*(:.*)?$")


_NUMPYDOC_SECTIONS = {
    "Parameters",
    "Returns",
    "Yields",
    "Receives",
    "Raises",
    "Warns",
    "Other Parameters",
    "Attributes",
    "Methods",
    "See Also",
    "Notes",
    "Warnings",
    "References",
    "Examples",
}


def _notes_for_trailing_prose(app, what, name, obj, options, lines):
    """Keep two kinds of docstring text that numpydoc would lose or garble.

    A section numpydoc does not know (e.g. "Modes") is dropped by it: it becomes a
    "Notes" section whose first line is the section's name in bold. Prose after the
    last entry of a Parameters (or Returns...) section, with no header of its own,
    would render as bogus parameter names: it gets a "Notes" header."""
    if "Notes" in lines:
        return
    for index, line in enumerate(lines[:-1]):
        underline = lines[index + 1].strip()
        if (
            line.strip()
            and not line[0].isspace()
            and line.strip() not in _NUMPYDOC_SECTIONS
            and len(underline) >= 3
            and set(underline) == {"-"}
            and len(underline) == len(line.strip())
        ):
            lines[index : index + 2] = ["Notes", "-----", f"**{line.strip()}.**", ""]
            return
    section = None
    for index, line in enumerate(lines):
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if line.strip() and set(following.strip()) == {"-"} and len(following.strip()) >= 3:
            section = line.strip()
            continue
        if (
            section in _SECTION_WITH_ENTRIES
            and index > 0
            and not lines[index - 1].strip()
            and line.strip()
            and not line[0].isspace()
            and not set(line.strip()) <= {"-"}
            and not _ENTRY.match(line)
        ):
            lines[index:index] = ["Notes", "-----"]
            return


_PUBLIC_MODULES = (
    "reservoir",
    "reservoir.readouts",
    "reservoir.metrics",
    "reservoir.datasets",
    "reservoir.lsm",
    "reservoir.storage",
    "reservoir.connectivity",
    "reservoir.backends",
    "reservoir.config",
    "reservoir.models",
    "reservoir.forecasting",
    "reservoir.distributed",
    "reservoir.io",
)


def _public_objects():
    """Every class and function a public module exposes (its ``__all__``, or its public
    names defined in it), keyed by id so that one object reached two ways counts once."""
    import importlib
    import inspect

    found = {}
    for module_name in _PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        names = getattr(module, "__all__", None) or [
            name
            for name, value in vars(module).items()
            if not name.startswith("_") and getattr(value, "__module__", None) == module_name
        ]
        for name in names:
            value = getattr(module, name)
            if inspect.isclass(value) or inspect.isfunction(value):
                found.setdefault(id(value), f"{module_name}.{name}")
    return found


def _check_api_reference(app):
    """Warn (an error under -W) about a public class or function the API reference leaves out."""
    import importlib

    from sphinx.util import logging as sphinx_logging

    text = (HERE / "api" / "index.rst").read_text()
    documented = set()
    for entry in re.findall(r"^   ([A-Za-z_][\w.]*)\s*$", text, flags=re.MULTILINE):
        target = reservoir
        try:
            for part in entry.split("."):
                target = (
                    getattr(target, part)
                    if hasattr(target, part)
                    else importlib.import_module(f"{target.__name__}.{part}")
                )
        except (AttributeError, ImportError):
            continue  # autosummary itself reports an entry that does not import
        documented.add(id(target))
    missing = sorted(name for key, name in _public_objects().items() if key not in documented)
    if missing:
        sphinx_logging.getLogger(__name__).warning(
            "public names missing from docs/api/index.rst: %s", ", ".join(missing)
        )


def setup(app):
    app.connect("builder-inited", _check_api_reference)
    app.connect("autodoc-skip-member", _skip_member)
    app.connect("autodoc-process-docstring", _notes_for_trailing_prose, priority=100)  # before numpydoc
