#!/usr/bin/env python3
"""Packs a prepared AudioSet training manifest into WebDataset tar shards.

Full AudioSet (~2M clips) is read much faster from a few thousand tar files
than from single files, and shards stream to many GPUs (``train.py
--train_shards``). Prepare the manifests first (``train.py`` does it, or
``audioset_prepare.prepare_audioset``), then:

    python make_shards.py results/AudioSet/prepared_full/train.json \
        /data/audioset_shards --max_samples_per_shard 1000

Every sample keeps its manifest entry (labels, duration, balanced-sampling
weight) in ``<key>.json``; ``shards.json`` indexes the shards and the sum of
the weights (used for balanced sampling of the stream). Write at least
``n_gpus * num_workers`` shards so that every DataLoader worker reads its own
shards.

Authors
 * ast_sb developers 2026
"""

import argparse
import logging
import sys
from typing import List, Optional, Sequence

from ast_sb.dataio.sharding import write_shards


def main(argv: Optional[Sequence[str]] = None) -> List[str]:
    """Writes the shards of a manifest (command-line entry point).

    Arguments
    ---------
    argv : Sequence[str], optional
        Command-line arguments (default ``sys.argv[1:]``).

    Returns
    -------
    List[str]
        Paths of the written shards.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("manifest", help="train.json of prepare_audioset")
    parser.add_argument("output_folder", help="folder for the tar shards")
    parser.add_argument("--max_samples_per_shard", type=int, default=1000)
    parser.add_argument(
        "--max_bytes_per_shard",
        type=int,
        default=None,
        help="also start a new shard after this many audio bytes",
    )
    parser.add_argument(
        "--audio_format",
        choices=("keep", "wav", "flac"),
        default="keep",
        help="keep: copy wav/flac bytes (others -> flac); wav; flac",
    )
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    return write_shards(
        args.manifest,
        args.output_folder,
        max_samples_per_shard=args.max_samples_per_shard,
        max_bytes_per_shard=args.max_bytes_per_shard,
        audio_format=args.audio_format,
        shuffle=True,
        seed=args.seed,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
