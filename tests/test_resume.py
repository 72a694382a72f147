"""Training killed with SIGKILL at random moments resumes exactly.

A tiny AST is trained through the project's data pipeline
(``ast_sb.training.recipe.build_datasets`` / ``dataloader_options``) and Brain with
random training crops, mixup, SpecAugment, dropout, drop-path and patchout
on, and an intra-epoch checkpoint after every step. The training runs in a
forked child process (forking keeps the interpreter's imports, so a restart
costs milliseconds instead of seconds); the test kills it with SIGKILL,
restarts it until it finishes, and compares every parameter and optimizer
moment with an uninterrupted run (``torch.equal``).

The checkpointer is SpeechBrain's stock ``Checkpointer`` (what a user's YAML
gives the Brain). Its first recoverable is a probe whose save hook reports
"save" and sleeps, so a kill can be placed inside a checkpoint save.

Authors
 * ast_sb developers 2026
"""

import json
import multiprocessing
import os
import random
import signal
import time

import numpy as np
import pytest
import soundfile as sf
import speechbrain as sb
import torch
from speechbrain.utils.checkpoints import (
    Checkpointer,
    mark_as_loader,
    mark_as_saver,
    register_checkpoint_hooks,
)
from speechbrain.utils.epoch_loop import EpochCounter

from ast_sb.lobes.augment import Mixup, SpecAugment
from ast_sb.lobes.features import AudioSpectrogramNormalizer, KaldiFbank
from ast_sb.lobes.model import (
    AudioSpectrogramTransformerClassifier,
    AudioSpectrogramTransformerEncoder,
)
from ast_sb.training.brain import AudioSpectrogramTransformerBrain
from ast_sb.training.recipe import build_datasets, dataloader_options
from ast_sb.training.schedulers import WarmupDecayScheduler

FORK = multiprocessing.get_context("fork")
SAMPLE_RATE = 16000
EPOCHS = 3
LABELS = ("low", "high")


def _write_data(folder):
    """Writes 8 train and 4 valid 1 s tone clips and their manifests."""
    gen = np.random.default_rng(0)
    manifests = {}
    for split, count in (("train", 8), ("valid", 4)):
        manifest = {}
        for i in range(count):
            label = LABELS[i % 2]
            freq = 300.0 if label == "low" else 2500.0
            t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
            wav = 0.3 * np.sin(2 * np.pi * freq * t)
            wav += 0.05 * gen.standard_normal(SAMPLE_RATE)
            name = f"{split}{i}.wav"
            sf.write(os.path.join(folder, name), wav.astype("float32"), 16000)
            manifest[f"{split}{i}"] = {
                "wav": f"$data_root/{name}",
                "duration": 1.0,
                "label": label,
                "weight": 1.0 + i % 3,  # for the weighted sampler
            }
        path = os.path.join(folder, f"{split}.json")
        with open(path, "w", encoding="utf-8") as fout:
            json.dump(manifest, fout)
        manifests[split] = path
    manifests["test"] = manifests["valid"]
    return manifests


@register_checkpoint_hooks
class SaveProbe:
    """A recoverable that reports each checkpoint save and stalls it.

    Arguments
    ---------
    report : callable
        Called with "save" when a save starts.
    delay : float
        Seconds the save sleeps (a kill can land inside it).
    """

    def __init__(self, report, delay):
        self.report = report
        self.delay = delay

    @mark_as_saver
    def save(self, path):
        """Reports, sleeps, writes a small file."""
        self.report("save")
        time.sleep(self.delay)
        with open(path, "w", encoding="utf-8") as fout:
            fout.write("probe\n")

    @mark_as_loader
    def load(self, path, end_of_epoch):
        """Nothing to restore."""
        del path, end_of_epoch


class ReportingBrain(AudioSpectrogramTransformerBrain):
    """Reports every finished training step."""

    report = None

    def on_fit_batch_end(self, batch, outputs, loss, should_step):
        """Reports the step, then runs the usual hook."""
        super().on_fit_batch_end(batch, outputs, loss, should_step)
        self.report(f"step {self._epoch} {self.step}")


def _build(
    folder, manifests, report, save_delay=0.0, brain_class=None, **extra
):
    """The tiny AST, data and Brain of a run in ``folder``.

    ``extra`` hparams are added (e.g. another ``train_sampler``).

    Returns
    -------
    brain, counter, datasets, loader options
    """
    sb.utils.seed.seed_everything(0)
    save_folder = os.path.join(folder, "save")
    encoder = AudioSpectrogramTransformerEncoder(
        "tiny224",
        n_mels=32,
        target_length=48,
        fstride=16,
        tstride=16,
        embed_dim=32,
        depth=2,
        num_heads=2,
        drop_rate=0.1,
        drop_path_rate=0.2,
        patchout="structured",
        patchout_time=0.34,
    )
    classifier = AudioSpectrogramTransformerClassifier(32, len(LABELS))
    counter = EpochCounter(EPOCHS)
    scheduler = WarmupDecayScheduler(
        warmup_steps=2, decay="cosine", total_epochs=EPOCHS
    )
    hparams = {
        "seed": 0,
        "n_classes": len(LABELS),
        "data_folder": os.path.dirname(manifests["train"]),
        "label_encoder_file": os.path.join(save_folder, "labels.txt"),
        "train_crop_seconds": 0.5,
        "eval_crop_seconds": 0.5,
        "spec_augment": SpecAugment(freq_mask=8, time_mask=12),
        "mixup": Mixup(mixup_prob=0.5),
        "lr_scheduler": scheduler,
        "epoch_counter": counter,
        "train_dataloader_opts": {"batch_size": 2, "shuffle": True},
        "valid_dataloader_opts": {"batch_size": 4},
        **extra,
    }
    datasets = build_datasets(hparams, manifests)
    loaders = dataloader_options(hparams, datasets)
    checkpointer = Checkpointer(
        save_folder,
        recoverables={
            "probe": SaveProbe(report, save_delay),
            "embedding_model": encoder,
            "classifier": classifier,
            "lr_scheduler": scheduler,
            "counter": counter,
        },
    )
    brain = (brain_class or ReportingBrain)(
        modules={
            "compute_features": KaldiFbank(n_mels=32),
            "mean_var_norm": AudioSpectrogramNormalizer(),
            "embedding_model": encoder,
            "classifier": classifier,
        },
        opt_class=lambda groups: torch.optim.AdamW(groups, lr=1e-3),
        hparams=hparams,
        run_opts={
            "device": "cpu",
            "noprogressbar": True,
            "ckpt_interval_steps": 1,
        },
        checkpointer=checkpointer,
    )
    brain.report = report
    return brain, counter, datasets, loaders


def _fit(brain, counter, datasets, loaders):
    brain.fit(
        counter,
        datasets["train"],
        datasets["valid"],
        train_loader_kwargs=loaders["train"],
        valid_loader_kwargs=loaders["valid"],
    )


def _write_final(brain, folder):
    """Writes the weights and optimizer state to ``folder/final.pt``."""
    state = {
        "modules": brain.modules.state_dict(),
        "optimizer": brain.optimizer.state_dict(),
    }
    tmp = os.path.join(folder, "final.pt.tmp")
    torch.save(state, tmp)
    os.replace(tmp, os.path.join(folder, "final.pt"))


def _train(folder, manifests, write_fd, save_delay):
    """The training child: builds everything, fits, writes final weights."""
    torch.set_num_threads(1)

    def report(event):
        os.write(write_fd, (event + "\n").encode())

    brain, counter, datasets, loaders = _build(
        folder, manifests, report, save_delay
    )
    _fit(brain, counter, datasets, loaders)
    _write_final(brain, folder)
    report("done")


def _start(folder, manifests, save_delay):
    """Forks a training child; returns (process, event reader)."""
    read_fd, write_fd = os.pipe()
    proc = FORK.Process(
        target=_train, args=(folder, manifests, write_fd, save_delay)
    )
    proc.start()
    os.close(write_fd)
    return proc, os.fdopen(read_fd, "r", encoding="utf-8")


def _run(folder, manifests, kills=(), save_delay=0.0):
    """Trains in ``folder``, killing the child as ``kills`` says.

    Each kill is ``(event, n, delay)``: SIGKILL ``delay`` seconds after
    the child's ``n``-th event starting with ``event`` ("step", "save").
    After the kills the child is restarted until it finishes.

    Returns
    -------
    landed : int
        Number of kills that hit a running child.
    """
    landed = 0
    for event, n, delay in kills:
        proc, events = _start(folder, manifests, save_delay)
        seen = 0
        with events:
            for line in events:
                if line.startswith(event):
                    seen += 1
                    if seen == n:
                        time.sleep(delay)
                        os.kill(proc.pid, signal.SIGKILL)
                        break
        proc.join()
        if proc.exitcode == -signal.SIGKILL:
            landed += 1
        else:
            # finished (or crashed) before the kill: restart normally below
            assert proc.exitcode == 0, f"training crashed ({proc.exitcode})"
            return landed
    proc, events = _start(folder, manifests, save_delay)
    with events:
        lines = events.read().splitlines()
    proc.join()
    assert proc.exitcode == 0, f"resumed training crashed ({proc.exitcode})"
    assert lines and lines[-1] == "done"
    return landed


def _assert_same_final(folder_a, folder_b):
    a = torch.load(os.path.join(folder_a, "final.pt"), weights_only=True)
    b = torch.load(os.path.join(folder_b, "final.pt"), weights_only=True)
    assert a["modules"].keys() == b["modules"].keys()
    for key in a["modules"]:
        assert torch.equal(a["modules"][key], b["modules"][key]), key
    moments_a = a["optimizer"]["state"]
    moments_b = b["optimizer"]["state"]
    assert moments_a.keys() == moments_b.keys()
    for index in moments_a:
        for name, value in moments_a[index].items():
            assert torch.equal(value, moments_b[index][name]), (index, name)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """Data and one uninterrupted run."""
    data = tmp_path_factory.mktemp("data")
    manifests = _write_data(str(data))
    folder = str(tmp_path_factory.mktemp("reference"))
    assert _run(folder, manifests) == 0
    return manifests, folder


def test_killed_at_random_steps_resumes_bit_identical(reference, tmp_path):
    manifests, ref_folder = reference
    rng = random.Random(11)
    # 4 steps per epoch, 3 epochs: kill 1-2 steps into each restart (so
    # the run never finishes first), up to 40 ms later (in the step, the
    # intra-epoch save, the validation or the end-of-epoch save)
    kills = [
        ("step", rng.randint(1, 2), rng.uniform(0, 0.04)) for _ in range(5)
    ]
    landed = _run(str(tmp_path), manifests, kills)
    assert landed == 5
    _assert_same_final(ref_folder, str(tmp_path))


def test_killed_inside_checkpoint_saves_resumes_bit_identical(
    reference, tmp_path
):
    manifests, ref_folder = reference
    rng = random.Random(12)
    # the probe stalls every save for 50 ms: kill inside the 1st-3rd save
    # of each restart (15 saves in all: the run never finishes first)
    kills = [("save", rng.randint(1, 3), 0.01) for _ in range(5)]
    landed = _run(str(tmp_path), manifests, kills, save_delay=0.05)
    assert landed == 5
    _assert_same_final(ref_folder, str(tmp_path))


class Interrupted(Exception):
    """Simulated crash."""


class InterruptedBrain(ReportingBrain):
    """Raises right after the step ``interrupt_at`` = (epoch, step)."""

    interrupt_at = None

    def on_fit_batch_end(self, batch, outputs, loss, should_step):
        """Runs the hooks, then raises at ``interrupt_at``."""
        super().on_fit_batch_end(batch, outputs, loss, should_step)
        if (self._epoch, self.step) == self.interrupt_at:
            raise Interrupted()


SAMPLERS = {
    "shuffle": {},
    "weighted": {"train_sampler": "weighted", "samples_per_epoch": 8},
    "dynamic": {
        "train_sampler": "dynamic",
        "max_batch_length": 1.6,  # seconds: three 0.5 s crops
        "num_buckets": 1,
    },
}


class RecordingBrain(ReportingBrain):
    """Records the clip ids of every training batch per epoch."""

    def on_fit_batch_end(self, batch, outputs, loss, should_step):
        """Records, then runs the usual hook."""
        super().on_fit_batch_end(batch, outputs, loss, should_step)
        self.seen = getattr(self, "seen", {})
        self.seen.setdefault(self._epoch, []).extend(batch.id)


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_crashed_run_resumes_exactly(reference, tmp_path, sampler):
    """In-process: crash in epoch 2 after the step-1 checkpoint, resume.

    The uninterrupted run also shows that the sampler draws a new order
    every epoch.
    """
    manifests, _ = reference
    extra = SAMPLERS[sampler]
    ref_folder = str(tmp_path / "reference")
    os.makedirs(ref_folder)
    parts = _build(
        ref_folder, manifests, lambda e: None, 0.0, RecordingBrain, **extra
    )
    _fit(*parts)
    _write_final(parts[0], ref_folder)
    orders = list(parts[0].seen.values())
    assert len(orders) == EPOCHS and all(len(o) == 8 for o in orders)
    assert orders[0] != orders[1] and orders[1] != orders[2]

    folder = str(tmp_path / "run")
    os.makedirs(folder)
    parts = _build(
        folder, manifests, lambda e: None, 0.0, InterruptedBrain, **extra
    )
    parts[0].interrupt_at = (2, 2)  # the save after step 2 never happens
    with pytest.raises(Interrupted):
        _fit(*parts)
    parts = _build(folder, manifests, lambda event: None, **extra)
    _fit(*parts)
    _write_final(parts[0], folder)
    _assert_same_final(ref_folder, folder)
