#!/usr/bin/env python3
"""Demo data: generated soundscapes in the DESED layout.

Isolated synthetic event clips (``ast_sb.dataio.soundscapes.write_synthetic_events``:
tones, sweeps, click trains, noise bursts, warbles; separate clips for
each split) are mixed into pink-noise backgrounds at random onsets and SNRs
(``ast_sb.dataio.soundscapes.generate_soundscapes``), giving::

    <data_folder>/audio/{train,validation,eval}/*.wav
    <data_folder>/metadata/{train,validation,eval}.tsv

Use your own isolated clips with ``--events <folder of class folders>``
and backgrounds with ``--backgrounds <folder>``.

    python make_soundscapes.py data/soundscapes --train 200 --valid 40 --test 60

Authors
 * ast_sb developers 2026
"""

import argparse
import os
import shutil

from ast_sb.dataio.soundscapes import (
    generate_soundscapes,
    write_synthetic_events,
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data_folder")
    parser.add_argument("--train", type=int, default=200)
    parser.add_argument("--valid", type=int, default=40)
    parser.add_argument("--test", type=int, default=60)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--events", default=None)
    parser.add_argument("--backgrounds", default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    splits = (
        ("train", args.train),
        ("validation", args.valid),
        ("eval", args.test),
    )
    for offset, (split, count) in enumerate(splits):
        events = args.events
        if events is None:  # distinct synthetic clips per split
            events = os.path.join(args.data_folder, "isolated", split)
            write_synthetic_events(
                events, per_class=8, seed=args.seed * 10 + offset
            )
        out = os.path.join(args.data_folder, "generated", split)
        tsv, _ = generate_soundscapes(
            events,
            out,
            count,
            duration=args.duration,
            background_folder=args.backgrounds,
            seed=args.seed * 10 + offset,
            prefix=split,
        )
        audio = os.path.join(args.data_folder, "audio", split)
        if os.path.isdir(audio):
            shutil.rmtree(audio)
        shutil.move(os.path.join(out, "audio"), audio)
        os.makedirs(os.path.join(args.data_folder, "metadata"), exist_ok=True)
        shutil.move(
            tsv, os.path.join(args.data_folder, "metadata", f"{split}.tsv")
        )
        shutil.rmtree(out)


if __name__ == "__main__":
    main()
