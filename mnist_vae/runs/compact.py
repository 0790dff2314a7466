"""A trained model's file made small enough to ship: no optimizer state, float16 precision.

A shipped model is only ever used, never resumed (``--reproduce`` retrains from the
card's command), so Adam's two moments (twice the weights) need not ship. Its trainable
weights may also be rounded to float16 precision, and stored as float16: Keras casts
them back to the float32 variables when it loads them, so the model loads and runs as
any other, at half the bytes again. Whether the rounding
may stay is measured, not assumed (``benchmarks/ship_pretrained.py`` keeps it only
where it moves the card's check score by less than ``HALF_TOLERANCE`` nats).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HALF_TOLERANCE = 0.01  # nats of the check score that float16 rounding may move


def round_to_half(values: np.ndarray) -> np.ndarray:
    """``values`` rounded to the nearest float16, kept float32; refuses what float16 cannot hold."""
    values = np.asarray(values, dtype=np.float32)
    with np.errstate(over="ignore"):  # an overflow is refused just below, in words
        rounded = values.astype(np.float16)
    if not np.isfinite(rounded[np.isfinite(values)]).all():
        raise ValueError("a weight exceeds float16's range (65504): keep it float32")
    return rounded.astype(np.float32)


def compact_model_file(source: Path, target: Path, *, half: bool) -> int:
    """Write ``source``'s model to ``target`` without optimizer state (``half``: rounded).

    Returns how many weights were rounded. Only floating weights that training can
    change are rounded, a frozen network's too (m1_m2's M1): counters, seeds and running
    statistics keep their exact values.
    """
    from mnist_vae.backend import prepare_backend
    from mnist_vae.registry import load_registrations

    prepare_backend()
    import keras

    load_registrations()
    model = keras.saving.load_model(source, compile=False)
    rounded = 0
    if half:
        learnable = learnable_weight_positions(source)
        for position, variable in enumerate(model.weights):
            if position in learnable and "float" in str(variable.dtype):
                variable.assign(round_to_half(keras.ops.convert_to_numpy(variable)))
                rounded += int(np.prod(variable.shape))
    model.save(target)
    if half:
        store_exact_halves(Path(target))
    return rounded


def learnable_weight_positions(source: Path) -> set[int]:
    """Where, in ``model.weights`` of the model in ``source``, the weights that training
    could change are, frozen or not.

    Freezing a network (m1_m2's given M1) hides its weights from ``trainable_weights``
    exactly as running statistics are hidden, so a second copy, all unfrozen, tells them
    apart. Positions, not paths: two networks of one model may name their layers alike.
    """
    import keras

    def unfreeze(layer) -> None:
        layer.trainable = True
        for inner in getattr(layer, "layers", []):
            unfreeze(inner)

    unfrozen = keras.saving.load_model(source, compile=False)
    unfreeze(unfrozen)
    learnable = {id(variable) for variable in unfrozen.trainable_weights}
    return {i for i, variable in enumerate(unfrozen.weights) if id(variable) in learnable}


def store_exact_halves(path: Path) -> int:
    """Rewrite the .keras file at ``path`` so each float32 weight whose values float16
    holds exactly is stored as float16; returns how many were.

    Keras casts a stored array to its variable's dtype when it loads it, so the model
    loads with the very same float32 values at half the bytes. Weights float16 cannot
    hold exactly (running statistics, anything not rounded) stay float32.
    """
    import io
    import zipfile

    import h5py

    weights = "model.weights.h5"
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    halved = 0
    packed = io.BytesIO()
    with h5py.File(io.BytesIO(members[weights]), "r") as source, h5py.File(packed, "w") as copy:
        copy.attrs.update(source.attrs)

        def visit(name: str, item) -> None:
            nonlocal halved
            if isinstance(item, h5py.Dataset):
                values = item[()]
                if isinstance(values, np.ndarray) and values.dtype == np.float32:
                    with np.errstate(over="ignore"):
                        half = values.astype(np.float16)
                    if np.array_equal(half.astype(np.float32), values):
                        values, halved = half, halved + 1
                copy.create_dataset(name, data=values)
            else:
                copy.require_group(name)
            copy[name].attrs.update(item.attrs)

        source.visititems(visit)
    members[weights] = packed.getvalue()
    staging = path.with_name(f".{path.name}.partial")
    with zipfile.ZipFile(staging, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    staging.replace(path)
    return halved
