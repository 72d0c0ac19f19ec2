"""The command line: ``visgen`` (GUI), ``visgen list``, ``visgen train``, ``visgen sample``."""
