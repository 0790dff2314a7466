"""What the ten labels are called: given with the data, or known from its files.

Names come, first found first:

1. a names file beside the data: ``classes.txt`` in an IDX folder, ``NAME.classes.txt``
   beside ``NAME.npz`` (one name per line, ten lines, in label order);
2. a ``class_names`` array of ten strings inside the ``.npz``;
3. a known MNIST-format dataset, recognised by the sha256 of its four IDX files as
   published (``KNOWN_DATASETS``);
4. canonical MNIST (recognised by its arrays' hashes, from any source): the digits;
5. otherwise the labels themselves, "0" to "9", and the data is called classes, not digits.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mnist_vae.config import NUM_CLASSES
from mnist_vae.errors import DataFormatError, UsageError

DIGITS = tuple(str(label) for label in range(NUM_CLASSES))
NAMES_FILE = "classes.txt"  # in an IDX folder; beside NAME.npz it is NAME.classes.txt
NPZ_KEY = "class_names"


@dataclass(frozen=True)
class ClassNames:
    """The ten class names of some data, where they came from, and whether they are digits."""

    names: tuple[str, ...]
    origin: str  # in words: "classes.txt", "canonical MNIST", ...
    digits: bool  # the classes are the digits 0-9 (canonical MNIST, or named so)
    dataset: str | None = None  # a known dataset recognised by its files, e.g. "Fashion-MNIST"

    @property
    def noun(self) -> str:
        """What one class is called in words: ``digit`` or ``class``."""
        return "digit" if self.digits else "class"

    @property
    def plain(self) -> bool:
        """Whether the names are the labels themselves ("0" to "9")."""
        return self.names == DIGITS


MNIST_CLASSES = ClassNames(DIGITS, "canonical MNIST", digits=True, dataset="MNIST")
UNNAMED = ClassNames(DIGITS, "none given (labels 0-9)", digits=False)


@dataclass(frozen=True)
class KnownDataset:
    name: str
    names: tuple[str, ...]
    digits: bool
    files: Mapping[str, str]  # x_train, y_train, x_test, y_test -> sha256 of the .gz as published


# The sha256 of each dataset's four IDX .gz files as its authors publish them, and its
# class names in label order, both copied from TensorFlow Datasets 4.9.10:
# tensorflow_datasets/url_checksums/{mnist,fashion_mnist,kmnist}.txt (URL, size, sha256)
# and the ClassLabel names in tensorflow_datasets/image_classification/mnist.py.
# EMNIST is not here: TFDS lists only the hash of the whole gzip.zip it comes in, not
# of the files inside it (give an EMNIST-MNIST folder a classes.txt of 0-9 instead).
KNOWN_DATASETS = (
    KnownDataset(
        "MNIST",
        DIGITS,
        digits=True,
        files={
            "x_train": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "y_train": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "x_test": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "y_test": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        },
    ),
    KnownDataset(
        "Fashion-MNIST",
        (
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
        digits=False,
        files={
            "x_train": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "y_train": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "x_test": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "y_test": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        },
    ),
    KnownDataset(
        "KMNIST",
        ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
        digits=False,
        files={
            "x_train": "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4",
            "y_train": "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17",
            "x_test": "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5",
            "y_test": "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c",
        },
    ),
)


def known_dataset(file_sha256: Mapping[str, str]) -> KnownDataset | None:
    """The known dataset whose four files have these sha256 (keyed x_train ... y_test)."""
    for dataset in KNOWN_DATASETS:
        if all(file_sha256.get(key) == digest for key, digest in dataset.files.items()):
            return dataset
    return None


def known_classes(file_sha256: Mapping[str, str]) -> ClassNames | None:
    """``known_dataset``'s names, as ``ClassNames``, or None for files not in the table."""
    dataset = known_dataset(file_sha256)
    if dataset is None:
        return None
    return ClassNames(
        dataset.names,
        f"{dataset.name} (recognised by its files' sha256)",
        digits=dataset.digits,
        dataset=dataset.name,
    )


def names_file(path: str | Path) -> Path:
    """Where the names of the data at ``path`` are looked for: ``classes.txt`` in an IDX
    folder, ``NAME.classes.txt`` beside ``NAME.npz``."""
    path = Path(path)
    return path / NAMES_FILE if path.is_dir() else path.with_name(f"{path.stem}.{NAMES_FILE}")


def read_names_file(path: str | Path) -> ClassNames | None:
    """The names in ``path`` (one per line, in label order), or None if there is no file."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataFormatError(f"{path}: not UTF-8 text; expected one class name per line") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise DataFormatError(f"{path}: cannot be read ({reason})") from None
    lines = [line.strip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    empty = [number for number, line in enumerate(lines, 1) if not line]
    if empty:
        raise DataFormatError(
            f"{path}: line {empty[0]} is empty; expected one class name per "
            f"line, {NUM_CLASSES} lines in label order"
        )
    names = check_names(lines, str(path))
    return ClassNames(names, path.name, digits=names == DIGITS)


def check_names(names: Sequence[str], origin: str) -> tuple[str, ...]:
    """Ten distinct, printable names, or a one-line ``DataFormatError`` naming ``origin``.

    A name that is a whole number must be its own label ("3" for label 3), so that
    ``--class 3`` means one class whichever way it is read.
    """
    names = tuple(str(name).strip() for name in names)
    if len(names) != NUM_CLASSES:
        raise DataFormatError(
            f"{origin}: {len(names)} class names, expected {NUM_CLASSES} "
            "(one per label 0-9, in label order)"
        )
    for label, name in enumerate(names):
        if not name:
            raise DataFormatError(f"{origin}: the name of class {label} is empty")
        if any(unicodedata.category(c).startswith("C") for c in name):
            raise DataFormatError(
                f"{origin}: the name of class {label} ({name!r}) holds control characters"
            )
        if name.isdecimal() and int(name) != label:
            raise DataFormatError(
                f"{origin}: class {label} is named {name!r}, another "
                "label's number; a number may only name its own label"
            )
    folded = [name.casefold() for name in names]
    twice = next((name for i, name in enumerate(names) if folded[i] in folded[:i]), None)
    if twice is not None:
        raise DataFormatError(
            f"{origin}: the class name {twice!r} is given twice (names are compared ignoring case)"
        )
    return names


def choose(given: ClassNames | None, known: ClassNames | None, canonical: bool) -> ClassNames:
    """The names to use: the data's own first, then a known dataset's, then MNIST's digits."""
    if given is not None:
        return ClassNames(
            given.names,
            given.origin,
            digits=given.digits or canonical or (known is not None and known.digits),
            dataset=known.dataset if known else None,
        )
    if known is not None:
        return known
    return MNIST_CLASSES if canonical else UNNAMED


def class_index(value: str | int, names: Sequence[str], option: str = "--class") -> int:
    """The label ``value`` means: a label 0-9, or a class name (ignoring case).

    Anything else is a one-line usage error listing the names.
    """
    text = str(value).strip()
    if text.isdecimal() or (text.startswith("-") and text[1:].isdecimal()):
        label = int(text)
        if 0 <= label < len(names):
            return label
        raise UsageError(
            f"{option} {text}: a label is 0-{len(names) - 1}, or give a class "
            f"name: {listing(names)}"
        )
    for label, name in enumerate(names):
        if name.casefold() == text.casefold():
            return label
    raise UsageError(
        f"{option} {text!r}: no such class; the classes are {listing(names)} "
        f"(or a label 0-{len(names) - 1})"
    )


def listing(names: Sequence[str]) -> str:
    """``0 apple, 1 banana, ...``: the names with their labels, for messages."""
    return ", ".join(
        f"{label} {name}" if name != str(label) else name for label, name in enumerate(names)
    )


def display(label: int, names: Sequence[str]) -> str:
    """How a class is shown in titles: ``3``, or ``3 (Dress)`` when it has a name."""
    name = names[label]
    return name if name == str(label) else f"{label} ({name})"
