"""Training strategies, one file each: options dataclass, Keras class and builder.

Every module in this folder is imported when the zoo loads, so a new strategy is a
new file here and nothing else: its ``@strategies.register`` does the rest.
"""

import importlib
import pkgutil

STRATEGY_MODULES = tuple(
    sorted(module.name for module in pkgutil.iter_modules(__path__) if not module.ispkg)
)

for _name in STRATEGY_MODULES:
    importlib.import_module(f"{__name__}.{_name}")
