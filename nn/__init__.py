"""Neural-network modules on reverse mode (Module, Parameter, layers, losses).

Not built yet: this package is the place the curriculum's Days 26-35 will live in.
"""
