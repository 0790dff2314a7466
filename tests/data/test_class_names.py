"""Class names that come with the data, and data that is not digits.

The data here is a slice of real MNIST written by the tests themselves as IDX files
and as an .npz, with names of its own (ten fruits): to mnist-vae it is MNIST-format
data that is not canonical MNIST, as Fashion-MNIST or KMNIST would be.
"""

from __future__ import annotations

import gzip
import hashlib
import json

import numpy as np
import pytest

from mnist_vae.data import classes, load_mnist, select_training_set
from mnist_vae.data.sources.arrays import KEYS
from mnist_vae.errors import DataFormatError, UsageError
from tests.helpers import FRUITS, assert_one_line_error, idx_bytes, invoke
from tests.helpers import one_line_message as one_line

IDX_NAMES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}


def idx_file(array: np.ndarray) -> bytes:
    """A gzipped IDX file of a uint8 array (magic 0x0000080N, big-endian dims, data)."""
    return gzip.compress(idx_bytes(array), mtime=0)


def write_names(path, names) -> None:
    path.write_text("".join(f"{name}\n" for name in names))


@pytest.fixture(scope="module")
def fruit_arrays(mnist):
    """600 training and 200 test images of real MNIST, stratified: to be called fruit."""
    train = select_training_set(mnist.x_train, mnist.y_train, 600, seed=1)
    test = select_training_set(mnist.x_test, mnist.y_test, 200, seed=1)
    return {
        "x_train": mnist.x_train[train],
        "y_train": mnist.y_train[train],
        "x_test": mnist.x_test[test],
        "y_test": mnist.y_test[test],
    }


@pytest.fixture(scope="module")
def fruit_idx(fruit_arrays, tmp_path_factory):
    """An IDX folder (as MNIST is published: gzipped) with a classes.txt of fruit names."""
    folder = tmp_path_factory.mktemp("fruit-idx")
    for key in KEYS:
        (folder / IDX_NAMES[key]).write_bytes(idx_file(fruit_arrays[key]))
    write_names(folder / "classes.txt", FRUITS)
    return folder


@pytest.fixture(scope="module")
def fruit_npz(fruit_arrays, tmp_path_factory):
    """The same data as an .npz whose class_names array names the fruits."""
    path = tmp_path_factory.mktemp("fruit-npz") / "fruit.npz"
    np.savez(path, **fruit_arrays, class_names=np.array(FRUITS))
    return path


# -- where names come from -----------------------------------------------------------


def test_a_classes_txt_in_an_idx_folder_names_the_classes(fruit_idx):
    data = load_mnist(fruit_idx)
    assert data.class_names == FRUITS
    assert not data.digits and data.class_noun == "class" and not data.canonical
    assert data.provenance["class_names"] == list(FRUITS)
    assert data.provenance["class_names_from"] == "classes.txt"
    assert data.provenance["digits"] is False
    assert "apple, banana" in data.describe() and "classes.txt" in data.describe()


def test_an_npz_names_its_classes_with_a_class_names_array(fruit_npz):
    data = load_mnist(fruit_npz)
    assert data.class_names == FRUITS and not data.digits
    assert data.provenance["class_names_from"] == "class_names in fruit.npz"


def test_a_names_file_beside_an_npz_wins_and_a_plain_classes_txt_there_is_not_read(
    fruit_arrays, tmp_path
):
    path = tmp_path / "fruit.npz"
    np.savez(path, **fruit_arrays, class_names=np.array(FRUITS))
    write_names(tmp_path / "classes.txt", [f"other {name}" for name in FRUITS])
    assert load_mnist(path).class_names == FRUITS  # classes.txt is for IDX folders only
    renamed = [name.upper() for name in FRUITS]
    write_names(tmp_path / "fruit.classes.txt", renamed)
    data = load_mnist(path)
    assert data.class_names == tuple(renamed)
    assert data.provenance["class_names_from"] == "fruit.classes.txt"


def test_bytes_names_in_an_npz_are_read_as_utf8(fruit_arrays, tmp_path):
    path = tmp_path / "bytes.npz"
    np.savez(path, **fruit_arrays, class_names=np.array([n.encode() for n in FRUITS]))
    assert load_mnist(path).class_names == FRUITS


def test_data_without_names_is_called_classes_labelled_0_to_9(small_mnist_npz):
    data = load_mnist(small_mnist_npz)
    assert data.class_names == classes.DIGITS
    assert not data.digits and data.class_noun == "class"
    assert "class names" not in data.describe()  # nothing to say beyond the labels


def test_canonical_mnist_is_digits(mnist):
    assert mnist.class_names == classes.DIGITS and mnist.digits and mnist.class_noun == "digit"
    assert mnist.provenance["dataset"] == "MNIST"


def test_names_that_are_the_digits_make_the_data_digits(fruit_arrays, tmp_path):
    np.savez(tmp_path / "emnist.npz", **fruit_arrays)
    write_names(tmp_path / "emnist.classes.txt", classes.DIGITS)
    data = load_mnist(tmp_path / "emnist.npz")
    assert data.digits and data.class_noun == "digit" and not data.canonical


# -- wrong names ---------------------------------------------------------------------


def test_a_wrong_number_of_names_is_a_one_line_error(fruit_arrays, fruit_idx, tmp_path):
    folder = tmp_path / "nine"
    folder.mkdir()
    for name in IDX_NAMES.values():
        (folder / name).write_bytes((fruit_idx / name).read_bytes())
    write_names(folder / "classes.txt", FRUITS[:9])
    with pytest.raises(DataFormatError) as excinfo:
        load_mnist(folder)
    one_line(excinfo, str(folder / "classes.txt"), "9 class names, expected 10")
    assert_one_line_error(invoke("data", "--data", folder), 2, "9 class names, expected 10")

    path = tmp_path / "eleven.npz"
    np.savez(path, **fruit_arrays, class_names=np.array([*FRUITS, "nut"]))
    with pytest.raises(DataFormatError) as excinfo:
        load_mnist(path)
    one_line(excinfo, str(path), "class_names", "11 class names, expected 10")


@pytest.mark.parametrize(
    ("names", "fragment"),
    [
        ([*FRUITS[:9], "Apple"], "'Apple' is given twice"),
        ([*FRUITS[:4], "", *FRUITS[5:]], "class 4 is empty"),
        ([*FRUITS[:3], "7", *FRUITS[4:]], "class 3 is named '7'"),
        ([*FRUITS[:9], "man\tgo"], "control characters"),
    ],
)
def test_names_must_be_distinct_non_empty_and_unambiguous(names, fragment):
    with pytest.raises(DataFormatError) as excinfo:
        classes.check_names(names, "fruit.classes.txt")
    one_line(excinfo, "fruit.classes.txt", fragment)


def test_an_empty_line_amid_the_names_file_is_refused(tmp_path):
    path = tmp_path / "classes.txt"
    path.write_text("\n".join([*FRUITS[:5], "", *FRUITS[5:]]) + "\n\n")
    with pytest.raises(DataFormatError) as excinfo:
        classes.read_names_file(path)
    one_line(excinfo, "line 6 is empty")


def test_an_npz_names_array_of_another_kind_is_refused(fruit_arrays, tmp_path):
    path = tmp_path / "numbers.npz"
    np.savez(path, **fruit_arrays, class_names=np.arange(10))
    with pytest.raises(DataFormatError) as excinfo:
        load_mnist(path)
    one_line(excinfo, "class_names must be an array of 10 strings")


# -- known datasets ------------------------------------------------------------------


def test_known_datasets_are_looked_up_by_their_files_sha256():
    fashion = next(d for d in classes.KNOWN_DATASETS if d.name == "Fashion-MNIST")
    assert classes.known_dataset(fashion.files) is fashion
    found = classes.known_classes(fashion.files)
    assert found.names[7] == "Sneaker" and found.dataset == "Fashion-MNIST" and not found.digits
    kmnist = next(d for d in classes.KNOWN_DATASETS if d.name == "KMNIST")
    assert classes.known_classes(kmnist.files).names[:3] == ("o", "ki", "su")
    mixed = {**fashion.files, "y_test": kmnist.files["y_test"]}
    assert classes.known_dataset(mixed) is None
    mnist = classes.known_classes(classes.KNOWN_DATASETS[0].files)
    assert mnist.digits and mnist.names == classes.DIGITS


def test_the_idx_reader_recognises_a_known_dataset_by_its_files(fruit_idx, tmp_path, monkeypatch):
    folder = tmp_path / "known"
    folder.mkdir()
    hashes = {}
    for key, name in IDX_NAMES.items():
        raw = (fruit_idx / name).read_bytes()
        (folder / name).write_bytes(raw)
        hashes[key] = hashlib.sha256(raw).hexdigest()
    known = classes.KnownDataset("Fruit-MNIST", FRUITS, digits=False, files=hashes)
    monkeypatch.setattr(classes, "KNOWN_DATASETS", (*classes.KNOWN_DATASETS, known))
    data = load_mnist(folder)  # no classes.txt: the names come from the table
    assert data.class_names == FRUITS and data.provenance["dataset"] == "Fruit-MNIST"
    assert "Fruit-MNIST" in data.provenance["class_names_from"]
    from mnist_vae.data import data_label

    assert data_label(data.provenance).startswith("Fruit-MNIST (")
    write_names(folder / "classes.txt", [name.title() for name in FRUITS])
    assert load_mnist(folder).class_names[0] == "Apple"  # the data's own names win


def test_a_class_is_chosen_by_label_or_by_name_ignoring_case():
    fashion = next(d for d in classes.KNOWN_DATASETS if d.name == "Fashion-MNIST").names
    assert classes.class_index("sneaker", fashion) == 7
    assert classes.class_index("Ankle Boot", fashion) == 9
    assert classes.class_index("3", fashion) == classes.class_index(3, classes.DIGITS) == 3
    with pytest.raises(UsageError) as excinfo:
        classes.class_index("boot", fashion, "--class")
    one_line(excinfo, "--class 'boot'", "7 Sneaker", "9 Ankle boot")
    with pytest.raises(UsageError) as excinfo:
        classes.class_index("12", fashion)
    one_line(excinfo, "--class 12", "0-9")


def test_runs_from_before_class_names_are_digits():
    from mnist_vae.runs.format import recorded_class_names, recorded_digits

    assert recorded_class_names({}) == classes.DIGITS and recorded_digits({})
    old = {"data": {"canonical_mnist": True, "train_sha256": "x"}}
    assert recorded_class_names(old) == classes.DIGITS and recorded_digits(old)
    other = {"data": {"canonical_mnist": False}}
    assert recorded_class_names(other) == classes.DIGITS and not recorded_digits(other)
    named = {"data": {"class_names": list(FRUITS), "digits": False}}
    assert recorded_class_names(named) == FRUITS and not recorded_digits(named)


# -- figures -------------------------------------------------------------------------


def test_figure_words_follow_the_class_names(tmp_path):
    from mnist_vae.runs import figures

    assert figures.latent_legend() == (
        "digit",
        list(classes.DIGITS),
        "test-set latent means by digit (outlined dots: each digit's mean)",
    )
    title, labels, heading = figures.latent_legend(list(FRUITS), "class")
    assert title == "class" and labels == list(FRUITS) and "by class" in heading
    images = np.random.default_rng(0).random((20, 28, 28))
    path = figures.save_image_grid(
        images, tmp_path / "grid.png", title="one class per column", column_labels=list(FRUITS)
    )
    assert path.stat().st_size > 1_000


# -- a run on named data -------------------------------------------------------------


@pytest.fixture(scope="module")
def fruit_run(fruit_idx, tmp_path_factory):
    """A tiny run on the fruit data, with what it drew in latent.png captured."""
    from mnist_vae.runs import figures

    drawn = {}
    original = figures.save_latent_scatter

    def capture(*args, **kwargs):
        drawn.update(kwargs)
        return original(*args, **kwargs)

    out = tmp_path_factory.mktemp("runs") / "fruit"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(figures, "save_latent_scatter", capture)
        result = invoke(
            "train",
            "--arch",
            "net1",
            "--epochs",
            1,
            "--train-size",
            300,
            "--batch-size",
            100,
            "--data",
            fruit_idx,
            "--out",
            out,
        )
    assert result.exit_code == 0, result.output
    return out, drawn


def test_a_run_records_its_class_names_and_draws_them(fruit_run):
    from mnist_vae.runs import load_run

    out, drawn = fruit_run
    record = json.loads((out / "config.json").read_text())
    assert record["data"]["class_names"] == list(FRUITS) and record["data"]["digits"] is False
    run = load_run(out)
    assert run.class_names == FRUITS and not run.digits and run.class_noun == "class"
    assert drawn["class_names"] == list(FRUITS) and drawn["what"] == "class"


def test_the_evaluation_figure_names_the_classes(fruit_run, fruit_idx, monkeypatch):
    from mnist_vae.evaluation import evaluation_figure

    out, _ = fruit_run
    drawn = {}
    original = evaluation_figure.save_evaluation_figure

    def capture(path, **kwargs):
        drawn.update(kwargs)
        return original(path, **kwargs)

    monkeypatch.setattr(evaluation_figure, "save_evaluation_figure", capture)
    result = invoke("evaluate", out, "--no-quality", "--iw-samples", 2, "--data", fruit_idx)
    assert result.exit_code == 0, result.output
    assert drawn["class_names"] == list(FRUITS)
    assert (out / "figures" / "evaluation.png").stat().st_size > 5_000


def test_sample_takes_a_class_by_name_and_digit_still_works(fruit_run, tmp_path):
    out, _ = fruit_run
    by_name = invoke("sample", out, "--class", "Banana", "--count", 6, "--npy", tmp_path / "b.npy")
    assert by_name.exit_code == 0, by_name.output
    assert (out / "samples" / "class1-s0.png").is_file()  # not "digit1": fruit are no digits
    for option, name in (("--digit", "d"), ("--class", "l")):  # by digit, then by label
        npy = tmp_path / f"{name}.npy"
        png = tmp_path / f"{name}.png"
        drawn = invoke("sample", out, option, 1, "--count", 6, "--out", png, "--npy", npy)
        assert drawn.exit_code == 0, drawn.output
        np.testing.assert_array_equal(np.load(tmp_path / "b.npy"), np.load(npy))


def test_sample_refuses_unknown_or_doubled_classes_in_one_line(fruit_run, tmp_path):
    out, _ = fruit_run
    png = tmp_path / "x.png"
    assert_one_line_error(
        invoke("sample", out, "--class", "durian", "--out", png),
        2,
        "--class 'durian'",
        "0 apple",
        "9 mango",
    )
    assert_one_line_error(invoke("sample", out, "--class", 10, "--out", png), 2, "0-9")
    assert_one_line_error(
        invoke("sample", out, "--class", "fig", "--digit", 5, "--out", png), 2, "--digit", "--class"
    )
    assert_one_line_error(
        invoke("sample", out, "--class", "fig", "--sampler", "gmm", "--out", png),
        2,
        "--sampler and --class",
    )
    assert not png.exists()


# -- benchmark augment ---------------------------------------------------------------


def test_the_augment_benchmark_has_the_reports_reference_on_mnist_only(mnist, fruit_npz):
    from mnist_vae.experiments.augment import REPORT_RESULTS, report_reference

    other = report_reference(load_mnist(fruit_npz))
    assert other["report"] is None
    assert "canonical MNIST" in other["report_note"] and "fruit.npz" in other["report_note"]
    own = report_reference(mnist)
    assert len(own["report"]) == len(REPORT_RESULTS)
    assert {"method": "real", "fraction": 0.2, "accuracy": 0.9724} in own["report"]
