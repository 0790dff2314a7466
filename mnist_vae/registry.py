"""Name -> builder registries, filled by the zoo and by third-party plugins.

Like timm's ``@register_model``: the decorated function's name is the key and the
builder is a small typed function. Registries are ``Registry`` instances rather
than module-global dicts, and they fill themselves lazily: the first lookup or
listing imports the built-in zoo and then every entry point in the
``mnist_vae.plugins`` group. A plugin that fails to import is skipped with a
warning, never a crash.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import importlib.metadata
import inspect
import warnings
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar, overload

from mnist_vae.errors import UnknownNameError

T = TypeVar("T", bound=Callable[..., Any])

PLUGIN_GROUP = "mnist_vae.plugins"
# The one core reference to the zoo: the module whose import registers the built-ins.
BUILTIN_MODULE = "mnist_vae.zoo"


class PluginWarning(UserWarning):
    """A plugin could not be loaded and was skipped."""


class PluginLoader:
    """Imports built-in modules and entry-point plugins once, on first need."""

    def __init__(self, group: str = PLUGIN_GROUP, builtins: tuple[str, ...] = ()) -> None:
        self.group = group
        self.builtins = builtins
        self.loaded = False
        self.failures: dict[str, str] = {}

    def load(self) -> None:
        if self.loaded:
            return
        from mnist_vae.backend import quiet_tensorflow_startup, require_tensorflow_backend

        # Set first: built-in modules look names up while they register.
        self.loaded = True
        try:
            require_tensorflow_backend()  # the zoo's Keras classes need it
            with quiet_tensorflow_startup():
                for module in self.builtins:
                    importlib.import_module(module)
        except BaseException:
            self.loaded = False
            raise
        for entry_point in importlib.metadata.entry_points(group=self.group):
            self._load_plugin(entry_point)

    def _load_plugin(self, entry_point: importlib.metadata.EntryPoint) -> None:
        from mnist_vae.backend import quiet_tensorflow_startup

        try:
            with quiet_tensorflow_startup():  # plugins often import Keras at module level
                target = entry_point.load()
                if callable(target) and not inspect.ismodule(target):
                    target()
        except Exception as exc:  # a third party's bug must not break us
            reason = f"{type(exc).__name__}: {exc}"
            self.failures[entry_point.name] = reason
            warnings.warn(
                f"mnist-vae plugin {entry_point.name!r} ({entry_point.value}) failed to load "
                f"and was skipped: {reason}",
                PluginWarning,
                stacklevel=2,
            )


class Registry(Generic[T]):
    """A named collection of builders of one kind (encoders, strategies, ...)."""

    def __init__(self, kind: str, loader: PluginLoader | None = None) -> None:
        self.kind = kind
        self._loader = loader
        self._entries: dict[str, T] = {}

    @overload
    def register(self, obj: T, *, name: str | None = None, override: bool = False) -> T: ...

    @overload
    def register(
        self, obj: None = None, *, name: str | None = None, override: bool = False
    ) -> Callable[[T], T]: ...

    def register(self, obj=None, *, name=None, override=False):
        """Register ``obj`` under ``name`` (default: its ``__name__``); usable as a decorator."""

        def add(item: T) -> T:
            key = name or item.__name__
            if not key.isidentifier():
                raise ValueError(f"{self.kind} name {key!r} must be a valid identifier")
            if key in self._entries and not override:
                raise ValueError(
                    f"{self.kind} {key!r} is already registered; pass override=True to replace it"
                )
            self._entries[key] = item
            return item

        return add if obj is None else add(obj)

    @contextlib.contextmanager
    def isolated(self) -> Iterator[Registry[T]]:
        """A ``with`` block whose registrations are undone when it ends (tests, notebooks).

        Entries replaced inside the block come back; new ones are removed.
        """
        self._ensure_loaded()
        saved = dict(self._entries)
        try:
            yield self
        finally:
            self._entries.clear()
            self._entries.update(saved)

    @contextlib.contextmanager
    def temporary(self, obj: T, *, name: str | None = None) -> Iterator[T]:
        """Register ``obj`` (under ``name``) for the duration of a ``with`` block."""
        with self.isolated():
            yield self.register(obj, name=name, override=True)

    def get(self, name: str) -> T:
        """Return the builder registered as ``name``, or fail listing close matches."""
        self._ensure_loaded()
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(self._unknown_message(name)) from None

    def check(self, name: str) -> str:
        """Return ``name`` if it is registered, else raise ``UnknownNameError``."""
        self.get(name)
        return name

    def names(self) -> list[str]:
        self._ensure_loaded()
        return sorted(self._entries)

    def builtin_names(self) -> list[str]:
        """The names the built-in zoo registers, without plugins': what the docs list."""
        return [name for name in self.names() if is_builtin(self._entries[name])]

    def summary(self, name: str) -> str:
        """The first paragraph of the builder's docstring, on one line: what it is, for
        listings (its first line alone may stop mid-sentence)."""
        doc = inspect.getdoc(self.get(name)) or ""
        return " ".join(doc.split("\n\n")[0].split())

    def __contains__(self, name: object) -> bool:
        self._ensure_loaded()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._ensure_loaded()
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self._entries)} entries)"

    def _ensure_loaded(self) -> None:
        if self._loader is not None:
            self._loader.load()

    def _unknown_message(self, name: str) -> str:
        known = sorted(self._entries)
        close = close_matches(str(name), known)
        message = f"unknown {self.kind} {name!r}"
        if close:
            message += "; did you mean " + " or ".join(repr(c) for c in close) + "?"
        if known:
            message += f" (registered: {', '.join(known)})"
        else:
            message += f" (no {self.kind} is registered)"
        return message


def is_builtin(obj: Any) -> bool:
    """Whether a registered builder (or class) is the built-in zoo's, not a plugin's."""
    return getattr(obj, "__module__", "").startswith(BUILTIN_MODULE + ".")


def close_matches(name: str, candidates: list[str], cutoff: float = 0.6) -> list[str]:
    """The candidates most similar to ``name``: the best, and any nearly as good."""
    scores = {c: difflib.SequenceMatcher(None, name.lower(), c.lower()).ratio() for c in candidates}
    good = sorted((c for c, s in scores.items() if s >= cutoff), key=lambda c: -scores[c])
    return [c for c in good if scores[c] >= scores[good[0]] - 0.1][:3] if good else []


_loader = PluginLoader(PLUGIN_GROUP, builtins=(BUILTIN_MODULE,))


def load_registrations() -> None:
    """Import the built-in zoo and every plugin once: their Keras classes and builders.

    Reloading a saved model needs its classes registered with Keras; this is the one
    way the core brings them in.
    """
    _loader.load()


def is_loaded() -> bool:
    """Whether the built-in zoo and the plugins are loaded (``names()`` is then cheap)."""
    return _loader.loaded


def plugins_installed() -> bool:
    """Whether any plugin is installed: read from the installed packages' metadata, with
    no plugin (and so no Keras) imported."""
    return any(True for _ in importlib.metadata.entry_points(group=PLUGIN_GROUP))


def plugin_failures() -> dict[str, str]:
    """Plugins that failed to load, with the reason (after loading)."""
    return dict(_loader.failures)


encoders: Registry = Registry("encoder", _loader)
decoders: Registry = Registry("decoder", _loader)
architectures: Registry = Registry("architecture", _loader)
strategies: Registry = Registry("strategy", _loader)
likelihoods: Registry = Registry("likelihood", _loader)
optimizers: Registry = Registry("optimizer", _loader)
classifiers: Registry = Registry("classifier", _loader)
discriminators: Registry = Registry("discriminator", _loader)
synthesis_methods: Registry = Registry("synthesis method", _loader)
samplers: Registry = Registry("latent sampler", _loader)

ALL_REGISTRIES: dict[str, Registry] = {
    "architectures": architectures,
    "encoders": encoders,
    "decoders": decoders,
    "strategies": strategies,
    "likelihoods": likelihoods,
    "optimizers": optimizers,
    "classifiers": classifiers,
    "discriminators": discriminators,
    "synthesis_methods": synthesis_methods,
    "samplers": samplers,
}
