"""Qt widgets of visgen: the main window and the views that draw snapshots."""
