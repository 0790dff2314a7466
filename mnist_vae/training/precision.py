"""Mixed precision for training: bfloat16 compute where the CPU has bfloat16 units.

On CPUs with AMX or AVX-512 BF16 instructions, TensorFlow's oneDNN kernels run
bfloat16 matrix multiplies and convolutions several times faster than float32.
Training switches the networks' layers to Keras's ``mixed_bfloat16`` policy
(variables stay float32; the model casts network outputs to float32 so every loss
is computed in float32) and back to float32 afterwards, so a saved run, its
evaluation and its exports are plain float32 models.
"""

from __future__ import annotations

from pathlib import Path

BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_has_bfloat16(cpuinfo: str | Path = "/proc/cpuinfo") -> bool:
    """Whether the CPU advertises native bfloat16 arithmetic (Linux; False elsewhere)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return False
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
    return any(flag in flags for flag in BF16_CPU_FLAGS)


def resolve_precision(precision: str, *, bfloat16_available: bool | None = None) -> str:
    """``auto`` becomes ``mixed_bfloat16`` on bfloat16-capable CPUs without GPUs, else float32."""
    if precision != "auto":
        return precision
    if bfloat16_available is None:
        import tensorflow as tf

        bfloat16_available = cpu_has_bfloat16() and not tf.config.list_physical_devices("GPU")
    return "mixed_bfloat16" if bfloat16_available else "float32"


def set_network_precision(model, policy: str) -> None:
    """Switch every layer of the model's encoder and decoder to ``policy``.

    The model casts the networks' outputs to float32 (``encode``, ``decode_logits``),
    so the losses are float32 whatever the policy. Keeping the output layers
    themselves in float32 was measured too: it kept the ELBO cost and lost the speed.
    Extra networks (a discriminator, a classifier) stay float32.
    """
    for network in (model.encoder, model.decoder):
        for layer in _all_layers(network):
            layer.dtype_policy = policy


def _all_layers(layer) -> list:
    """``layer`` and every layer nested in it, through the public ``layers`` lists."""
    found = [layer]
    for inner in getattr(layer, "layers", []):
        found.extend(_all_layers(inner))
    return found
