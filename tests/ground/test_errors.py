"""One-line messages for what the user can act on: a write the disk refused."""

from __future__ import annotations

import errno

import pytest

from mnist_vae.errors import FULL_DISK, full_disk_message


def test_a_full_disk_names_the_file_and_how_the_command_goes_on():
    error = OSError(errno.ENOSPC, "No space left on device", "run/model.keras")
    assert full_disk_message(error, "train") == (
        "the disk is full (no space left on the device) while writing run/model.keras; "
        "nothing was published: free some space (or raise the limit) and run the command "
        "again (it resumes from its last checkpoint)"
    )


def test_h5py_names_the_file_in_its_text_and_other_commands_say_no_resume():
    error = OSError(errno.EDQUOT, "Can't write data (file write failed: filename = 'x.h5', ...)")
    message = full_disk_message(error, "sample")
    assert message.startswith("the disk quota is exceeded while writing x.h5; ")
    assert message.endswith("run the command again")


@pytest.mark.parametrize("code", sorted(FULL_DISK))
def test_each_full_disk_errno_has_its_cause(code):
    assert full_disk_message(OSError(code, "refused")).startswith(FULL_DISK[code] + ";")
