"""Measurements of what a model has learnt, from outside the model (Qt-free).

``digits_classifier``: a small classifier of the 8x8 digits, trained once and
cached, that judges generated digits (time to insight; later the Frechet
distance and KID on its features).
"""
