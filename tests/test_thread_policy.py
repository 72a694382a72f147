"""The small-model thread policy of ``ast-sb stream`` (no timings)."""

import helpers
import pytest
import torch

from ast_sb.cli import _stream_threads, build_parser
from ast_sb.inference.interface import AudioSpectrogramTransformerInterface
from ast_sb.inference.threads import SMALL_MODEL_GFLOP, policy_threads


@pytest.fixture
def keep_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize(
    "gflop, cores, expected",
    [(1.65, 2, 1), (SMALL_MODEL_GFLOP, 2, 2), (30.0, 4, 4), (30.0, 0, 1)],
)
def test_policy(gflop, cores, expected):
    assert policy_threads(gflop, cores) == expected


def test_stream_applies_the_policy_unless_told(tmp_path, keep_threads):
    folder = helpers.make_model_folder(tmp_path / "m", ["a", "b"])
    model = AudioSpectrogramTransformerInterface.from_folder(folder)
    torch.set_num_threads(2)
    assert _stream_threads(model, None) == 1  # tiny, depth 1
    assert torch.get_num_threads() == 1
    assert _stream_threads(model, 2) == 2
    assert torch.get_num_threads() == 2
    args = build_parser().parse_args(
        ["stream", "-", "--model", folder, "--threads", "2"]
    )
    assert args.threads == 2
