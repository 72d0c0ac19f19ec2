"""Exceptions a user can cause; each carries a one-line message meant for them."""


class VisgenError(Exception):
    """Base class: the message is shown to the user as is, on one line."""


class DataError(VisgenError):
    """A dataset could not be loaded: names the file and what is wrong with it."""


class ParamError(VisgenError):
    """A hyperparameter value was refused: names the parameter and the valid range."""


class CheckpointError(VisgenError):
    """A checkpoint file is corrupt, foreign, or does not fit the model."""


class UnknownNameError(VisgenError):
    """A model, dataset, view or parameter name that is not registered."""


class PluginError(VisgenError):
    """A plugin breaks visgen's contract (e.g. a declared view without its trainer method):
    the plugin author's mistake, named with the model and the plugin."""
