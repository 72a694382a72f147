"""The data-preparation helpers under their former module name.

They live by concept in :mod:`ast_sb.audio_checks` (durations, audio file
checks), :mod:`ast_sb.manifests` (manifests, lists, skip-if-prepared),
:mod:`ast_sb.labels` (label checks, balanced weights), :mod:`ast_sb.splits`
(stratified splits, leakage checks) and :mod:`ast_sb.errors`
(``DataPreparationError``). This module only re-exports them, so that
``from ast_sb.prepare_utils import ...`` in code written before the split
(other branches, users' own prepare scripts) keeps working; new code imports
from the modules above.

Example
-------
>>> from ast_sb.audio_checks import read_duration as moved
>>> read_duration is moved
True

Authors
 * ast_sb developers 2026
"""

from ast_sb.audio_checks import (
    AUDIO_EXTENSIONS,
    MIN_DURATION,
    AudioFileError,
    add_durations,
    check_audio_file,
    check_audio_files,
    check_policy,
    find_audio_files,
    read_duration,
)
from ast_sb.errors import DataPreparationError
from ast_sb.labels import (
    UnknownLabelError,
    balanced_sample_weights,
    check_label,
)
from ast_sb.manifests import (
    is_prepared,
    log_manifest_summary,
    manifest_paths,
    mark_prepared,
    options_hash,
    read_manifest,
    report_problems,
    write_list,
    write_manifest,
    write_splits,
)
from ast_sb.splits import check_disjoint, stratified_split

__all__ = [
    "AUDIO_EXTENSIONS",
    "MIN_DURATION",
    "AudioFileError",
    "DataPreparationError",
    "UnknownLabelError",
    "add_durations",
    "balanced_sample_weights",
    "check_audio_file",
    "check_audio_files",
    "check_disjoint",
    "check_label",
    "check_policy",
    "find_audio_files",
    "is_prepared",
    "log_manifest_summary",
    "manifest_paths",
    "mark_prepared",
    "options_hash",
    "read_duration",
    "read_manifest",
    "report_problems",
    "stratified_split",
    "write_list",
    "write_manifest",
    "write_splits",
]
