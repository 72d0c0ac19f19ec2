"""The hooks a visgen plugin may implement.

A plugin is a module (or object) with functions decorated by
``visgen.hookimpl``, found through the entry-point group ``visgen``::

    # pyproject.toml of a plugin package
    [project.entry-points.visgen]
    my-model = "my_package.visgen_plugin"

Each hook returns a list; visgen collects the lists of every plugin. Keep the
module cheap to import: return specs whose factories are ``"module:attr"``
strings so torch and Qt load only when a model or a widget is built.
"""
import pluggy

PROJECT = "visgen"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def visgen_register_models():
    """Return a list of ``visgen.ModelSpec``: the models this plugin provides.

    Model ids are lowercase with hyphens and unique across all plugins; a
    duplicate id is reported as an error of the later plugin.
    """


@hookspec
def visgen_register_datasets():
    """Return a list of ``visgen.DatasetSpec``: datasets this plugin provides.

    Loaders run only when a run is built; ``available`` must be cheap.
    """


@hookspec
def visgen_register_views():
    """Return a list of ``visgen.ViewKind``: new kinds of view widget.

    A model's ``ViewDecl.kind`` names one of these (or a built-in kind). The
    widget factory is resolved in the GUI thread only, never in headless runs.
    """
