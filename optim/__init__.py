"""Optimizers that update parameters from their ``.grad`` (SGD, Adam).

Not built yet: this package is the place the curriculum's Days 31-32 will live in.
"""
