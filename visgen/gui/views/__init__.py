"""View widgets, one module per view kind; each draws one kind of snapshot."""
