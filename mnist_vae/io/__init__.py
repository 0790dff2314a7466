"""Writing results so that nothing is ever half-written or silently replaced.

Every writer works under a hidden name beside its result and renames it into place
when done: ``.NAME.XXXXXXXX.partial`` folders (``staged_dir``),
``.STEM.TOKEN.partial.SUFFIX`` files (``staged_file``), ``.NAME.XXXXXXXX.old``
while an ``--overwrite`` swaps folders, and the fixed ``.NAME.training`` of a training
(``locked_stage``). Each is locked (``flock``) for as long as its process uses it, so
one that can be locked was left by a killed process: ``stale_stages`` finds those,
``remove_stale`` removes one, and the output checks warn about them
(``StaleStagesWarning``). Each also carries proof that mnist-vae made it (``marks``: a
marker file written first into a folder, a checked token in a file's name), and every
committed result a manifest of its files: nothing without them is ever deleted or
replaced (``unrecognised_stages``, ``overwrite_problem``).
"""

from mnist_vae.io.checks import (
    RESULT_MARKERS,
    STAGING_EXTRA,
    check_output_dir,
    check_output_file,
    check_output_path,
    check_writable_dir,
)
from mnist_vae.io.files import (
    atomic_file,
    sha256,
    staged_file,
    write_json_atomic,
    write_npy_atomic,
)
from mnist_vae.io.folders import locked_stage, staged_dir, training_stage_path
from mnist_vae.io.locks import LOCK_PATIENCE, in_use
from mnist_vae.io.marks import RESULT_MANIFEST, STAGE_MARKER, overwrite_problem
from mnist_vae.io.stale import (
    INTERRUPTED,
    OLD_FOLDER,
    PARTIAL_FILE,
    PARTIAL_FOLDER,
    CleanRequest,
    StaleStage,
    StaleStagesWarning,
    clean_stages,
    human_age,
    human_size,
    remove_stale,
    stale_note,
    stale_stages,
    unrecognised_stages,
    warn_stale_stages,
)

__all__ = [
    "INTERRUPTED",
    "LOCK_PATIENCE",
    "OLD_FOLDER",
    "PARTIAL_FILE",
    "PARTIAL_FOLDER",
    "RESULT_MANIFEST",
    "RESULT_MARKERS",
    "STAGE_MARKER",
    "STAGING_EXTRA",
    "CleanRequest",
    "StaleStage",
    "StaleStagesWarning",
    "atomic_file",
    "check_output_dir",
    "check_output_file",
    "check_output_path",
    "check_writable_dir",
    "clean_stages",
    "human_age",
    "human_size",
    "in_use",
    "locked_stage",
    "overwrite_problem",
    "remove_stale",
    "sha256",
    "staged_dir",
    "staged_file",
    "stale_note",
    "stale_stages",
    "training_stage_path",
    "unrecognised_stages",
    "warn_stale_stages",
    "write_json_atomic",
    "write_npy_atomic",
]
