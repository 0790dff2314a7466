"""The MNIST judge ships with the package: same weights, same numbers, every machine."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from mnist_vae.errors import RunError
from mnist_vae.evaluation import reference
from mnist_vae.evaluation.classifier_training import accuracy
from mnist_vae.evaluation.reference import (
    PINNED_TEST_ACCURACY,
    pinned_reference,
    reference_classifier,
)


def test_mnist_is_judged_by_the_pinned_weights_without_training(mnist):
    said = []
    judge = reference_classifier(mnist, report=said.append)
    assert judge.path == reference.PINNED and not said  # nothing trained, nothing cached
    assert judge.trained_on["train_sha256"] == mnist.provenance["train_sha256"]
    # Its accuracy as documented, measured here on the 10,000 test images.
    assert accuracy(judge.network, mnist.x_test, mnist.y_test) == pytest.approx(
        PINNED_TEST_ACCURACY, abs=1e-4
    )


def test_the_code_that_trained_it_still_builds_its_architecture(quick_reference):
    trained = quick_reference  # the small slice is not canonical MNIST: trained on first use
    pinned = pinned_reference().network.get_weights()
    assert [w.shape for w in trained.network.get_weights()] == [w.shape for w in pinned]
    assert not all(
        np.array_equal(a, b) for a, b in zip(trained.network.get_weights(), pinned, strict=True)
    )


def test_a_damaged_pinned_file_is_refused_in_one_line(tmp_path, monkeypatch):
    damaged = tmp_path / reference.PINNED.name
    shutil.copy(reference.PINNED, damaged)
    with open(damaged, "r+b") as handle:
        handle.seek(5000)
        byte = handle.read(1)
        handle.seek(5000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    monkeypatch.setattr(reference, "PINNED", damaged)
    with pytest.raises(RunError, match=r"damaged.*reinstall"):
        pinned_reference()


# Measured with the pinned judge when it was pinned; any machine must agree. The test
# images are taken in the order of their examples' hashes, the same from every source.
FD_TEST_HALVES = 6.022765826611817  # images 0-1999 against 2000-3999 in that order
FD_SHIFTED = 93.81301327542008  # 0-1999 against 2000-3999 moved 3 pixels right


def test_the_pinned_judge_gives_the_same_frechet_distance_on_every_install(mnist):
    """Fixed images in, the Fréchet distance measured when the judge was pinned out:
    this runs in CI on a fresh install, so two machines' numbers are known to agree."""
    from mnist_vae.data.sources.integrity import example_digests
    from mnist_vae.evaluation.metrics import frechet_distance

    digests = np.array(example_digests(mnist.x_test, mnist.y_test), dtype="S32")
    images = mnist.x_test[np.argsort(digests, kind="stable")]
    judge = pinned_reference()
    first = judge.features(images[:2000])
    second = images[2000:4000]
    assert frechet_distance(first, judge.features(second)) == pytest.approx(
        FD_TEST_HALVES, rel=1e-4
    )
    shifted = np.roll(second, 3, axis=2)
    assert frechet_distance(first, judge.features(shifted)) == pytest.approx(FD_SHIFTED, rel=1e-4)
