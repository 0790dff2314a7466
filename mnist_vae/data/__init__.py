"""MNIST as arrays, subsets and tf.data pipelines, from the first source that works.

``load_mnist`` walks the source chain (``sources/``); ``select_training_set`` picks
seeded, stratified subsets by content, ``select_labelled_set`` class-balanced labelled
sets; ``make_dataset`` and ``to_float_images`` turn uint8 arrays into what the models
eat; ``classes`` knows what the ten labels are called.
"""

from mnist_vae.data.classes import ClassNames, class_index
from mnist_vae.data.loading import (
    ENV_VAR,
    MnistData,
    data_label,
    load_mnist,
    load_recorded,
    same_data,
)
from mnist_vae.data.pipeline import (
    EpochClock,
    binarize_test_set,
    binarized,
    make_dataset,
    sampled_binary,
    to_float_images,
)
from mnist_vae.data.subsets import (
    content_keys,
    select_labelled_set,
    select_training_set,
    stratified_counts,
)

__all__ = [
    "ENV_VAR",
    "ClassNames",
    "EpochClock",
    "MnistData",
    "binarize_test_set",
    "binarized",
    "class_index",
    "content_keys",
    "data_label",
    "load_mnist",
    "load_recorded",
    "make_dataset",
    "same_data",
    "sampled_binary",
    "select_labelled_set",
    "select_training_set",
    "stratified_counts",
    "to_float_images",
]
