"""Architectures: named encoder + decoder pairs, selected with ``--arch``."""

from __future__ import annotations

from mnist_vae.config import Architecture
from mnist_vae.registry import architectures


@architectures.register
def net1() -> Architecture:
    """The report's net1: two strided convs / three transposed convs."""
    return Architecture(encoder="net1", decoder="net1")


@architectures.register
def net2() -> Architecture:
    """The report's net2: net1's encoder, a deeper four-layer decoder."""
    return Architecture(encoder="net1", decoder="net2")


@architectures.register
def net3() -> Architecture:
    """The report's net3: 4x4 convs with dropout in encoder and decoder."""
    return Architecture(encoder="net3", decoder="net3")


@architectures.register
def net4() -> Architecture:
    """The report's net4: an MLP encoder with net1's decoder."""
    return Architecture(encoder="net4", decoder="net1")


@architectures.register
def resconv() -> Architecture:
    """Residual conv nets (ours) for larger latents: try --latent-dim 16 --lr 0.001."""
    return Architecture(encoder="resconv", decoder="resconv")


@architectures.register
def mlp() -> Architecture:
    """The IWAE paper's one-stochastic-layer MLP (Burda et al. 2016): use --latent-dim 50."""
    return Architecture(encoder="mlp", decoder="mlp")


@architectures.register
def mlp600() -> Architecture:
    """Kingma et al. (2014)'s M1 MLP (600, 600 softplus): use --latent-dim 50 for M1+M2."""
    return Architecture(encoder="mlp600", decoder="mlp600")


@architectures.register
def mlp500() -> Architecture:
    """One hidden layer of 500 softplus units each way, M2's networks in Pyro's SS-VAE example."""
    return Architecture(encoder="mlp500", decoder="mlp500")


@architectures.register
def gated() -> Architecture:
    """Tomczak & Welling (2018)'s gated MLPs (300, 300): VampPrior's networks; vamp2's."""
    return Architecture(encoder="gated", decoder="gated")
