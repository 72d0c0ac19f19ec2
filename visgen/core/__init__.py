"""The Qt-free core: specs, plugins, runs, streams, run files, metrics."""
