"""Stand-in modules and synthetic data for the Brain tests, and a DDP worker.

The stand-ins follow the ``ast_sb`` module contracts (``docs/DESIGN.md``):
``compute_features(wavs, lengths) -> [B, T, F]``, ``mean_var_norm(feats,
lengths)``, ``embedding_model(feats, lengths) -> [B, 1, D]`` and
``classifier([B, 1, D]) -> [B, 1, C]``. The data are noisy sine tones whose
frequency encodes the class (single-label) or the set of tags (multi-label).

Run as a script under ``torchrun`` (``python -m torch.distributed.run
--nproc_per_node=2 tests/ddp_worker.py OUT_DIR``) it trains a tiny
single-label and a tiny multi-label model with the gloo backend and writes
each rank's validation and test metrics and the ids of its training batches
to ``OUT_DIR/rank<r>_<mode>.json``, and its final parameters to
``OUT_DIR/rank<r>_<mode>_params.pt``.

Authors
 * ast_sb developers 2026
"""

import json
import math
import os
import sys
from typing import Dict

import speechbrain as sb
import torch
from torch import nn

N_CLASSES = 4
FREQS = (0.04, 0.11, 0.19, 0.29)  # cycles per sample, one per class
N_SAMPLES = 1024


class FramedLogPower(nn.Module):
    """Frames the waveform and returns the log power spectrum [B, T, F].

    Arguments
    ---------
    frame : int
        Frame length (F = frame // 2 + 1).
    hop : int
        Frame shift.
    """

    def __init__(self, frame: int = 64, hop: int = 32):
        super().__init__()
        self.frame = frame
        self.hop = hop

    def forward(self, wavs, lengths=None):
        """Returns the log power spectrum of every frame."""
        frames = wavs.unfold(1, self.frame, self.hop)
        power = torch.fft.rfft(frames, dim=-1).abs().pow(2)
        return torch.log(power + 1e-6)


class FixedNorm(nn.Module):
    """AST-like fixed normalisation ``(x - mean) / (2 * std)``.

    Arguments
    ---------
    mean : float
        Mean.
    std : float
        Standard deviation.
    """

    def __init__(self, mean: float = 0.0, std: float = 4.0):
        super().__init__()
        self.mean = mean
        self.std = std

    def forward(self, feats, lengths=None):
        """Normalises the features."""
        return (feats - self.mean) / (2 * self.std)


class MeanPoolEncoder(nn.Module):
    """Per-frame MLP with dropout, mean-pooled over time: [B, 1, D].

    Arguments
    ---------
    n_feats : int
        Feature dimension F.
    dim : int
        Embedding size D.
    dropout : float
        Dropout probability (exercises the RNG during training).
    """

    def __init__(self, n_feats: int = 33, dim: int = 16, dropout: float = 0.1):
        super().__init__()
        self.proj = nn.Linear(n_feats, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, feats, lengths=None):
        """Encodes [B, T, F] features into [B, 1, D]."""
        x = self.dropout(torch.relu(self.proj(feats)))
        return x.mean(dim=1, keepdim=True)


class LinearClassifier(nn.Module):
    """Linear head, log-softmax (single-label) or logits (multi-label).

    Arguments
    ---------
    dim : int
        Embedding size.
    n_classes : int
        Number of classes.
    log_softmax : bool
        Apply log-softmax.
    """

    def __init__(self, dim: int = 16, n_classes: int = 4, log_softmax=True):
        super().__init__()
        self.lin = nn.Linear(dim, n_classes)
        self.log_softmax = log_softmax

    def forward(self, x):
        """[B, 1, D] -> [B, 1, C]."""
        out = self.lin(x)
        return torch.log_softmax(out, dim=-1) if self.log_softmax else out


def make_modules(multi_label: bool = False, seed: int = 0) -> Dict:
    """Builds the four stand-in modules with a fixed initialisation."""
    torch.manual_seed(seed)
    return {
        "compute_features": FramedLogPower(),
        "mean_var_norm": FixedNorm(),
        "embedding_model": MeanPoolEncoder(),
        "classifier": LinearClassifier(log_softmax=not multi_label),
    }


def make_dataset(
    n: int, multi_label: bool = False, seed: int = 0, prefix: str = "utt"
):
    """Synthetic tones: one tone per class / a random set of tones.

    Arguments
    ---------
    n : int
        Number of examples.
    multi_label : bool
        Multi-hot float labels instead of class indices.
    seed : int
        Data seed.
    prefix : str
        Prefix of the example ids.

    Returns
    -------
    speechbrain.dataio.dataset.DynamicItemDataset
        Items with ``id``, ``sig`` and ``label_encoded``.
    """
    gen = torch.Generator().manual_seed(seed)
    data = {}
    for i in range(n):
        length = int(torch.randint(800, N_SAMPLES + 1, (1,), generator=gen))
        t = torch.arange(length, dtype=torch.float32)
        if multi_label:
            active = torch.rand(N_CLASSES, generator=gen) < 0.5
            if not active.any():
                active[i % N_CLASSES] = True
            label = active.float()
        else:
            active = torch.zeros(N_CLASSES, dtype=torch.bool)
            active[i % N_CLASSES] = True
            label = torch.LongTensor([i % N_CLASSES])
        wav = 0.1 * torch.randn(length, generator=gen)
        for c in torch.nonzero(active).flatten().tolist():
            phase = float(torch.rand(1, generator=gen)) * 2 * math.pi
            wav = wav + torch.sin(2 * math.pi * FREQS[c] * t + phase)
        data[f"{prefix}{i:03d}"] = {"sig": wav, "label_encoded": label}
    return sb.dataio.dataset.DynamicItemDataset(
        data, output_keys=["id", "sig", "label_encoded"]
    )


def make_hparams(multi_label: bool = False, **extra) -> Dict:
    """Default test hparams (SpecAugment, mixup, scheduler, head lr x10)."""
    from ast_sb.lobes.augment import Mixup, SpecAugment
    from ast_sb.training.schedulers import WarmupDecayScheduler

    hparams = {
        "multi_label": multi_label,
        "spec_augment": SpecAugment(freq_mask=4, time_mask=4),
        "mixup": Mixup(mixup_prob=0.5),
        "head_lr_multiplier": 10.0,
        "lr_scheduler": WarmupDecayScheduler(
            warmup_steps=3, decay="step", gamma=0.5, decay_start=2
        ),
        "seed": 1234,
    }
    hparams.update(extra)
    return hparams


def _recording_brain_class():
    """The Brain, recording the example ids of every training batch."""
    from ast_sb.training.brain import AudioSpectrogramTransformerBrain

    class RecordingBrain(AudioSpectrogramTransformerBrain):
        """Keeps ``(epoch, step, ids)`` of each training batch."""

        def fit_batch(self, batch):
            """Records the batch ids, then trains on the batch."""
            self.seen_batches.append([self._epoch, self.step, list(batch.id)])
            return super().fit_batch(batch)

    return RecordingBrain


def _parameters(modules) -> Dict[str, torch.Tensor]:
    """Every trainable parameter (without the DDP ``module.`` prefix)."""
    return {
        name.replace(".module.", "."): p.detach().cpu().clone()
        for name, p in modules.named_parameters()
    }


def run_ddp(out_dir: str, multi: bool, run_opts: Dict):
    """Trains 2 epochs (DDP already initialised), writes this rank's metrics.

    Arguments
    ---------
    out_dir : str
        Output folder.
    multi : bool
        Multi-label instead of single-label.
    run_opts : dict
        SpeechBrain run options.
    """
    mode = "multi" if multi else "single"
    rank = int(os.environ["RANK"])
    modules = make_modules(multi_label=multi)
    ckpt_dir = os.path.join(out_dir, f"save_{mode}")
    counter = sb.utils.epoch_loop.EpochCounter(2)
    checkpointer = sb.utils.checkpoints.Checkpointer(
        ckpt_dir,
        recoverables={
            "embedding_model": modules["embedding_model"],
            "classifier": modules["classifier"],
            "counter": counter,
        },
    )
    brain = _recording_brain_class()(
        modules=modules,
        opt_class=lambda groups: torch.optim.Adam(groups, lr=3e-3),
        hparams=make_hparams(multi, epoch_counter=counter),
        run_opts=run_opts,
        checkpointer=checkpointer,
    )
    brain.seen_batches = []
    train = make_dataset(32, multi, seed=1, prefix="tr")
    valid = make_dataset(12, multi, seed=2, prefix="va")
    brain.fit(
        counter,
        train,
        valid,
        train_loader_kwargs={"batch_size": 4, "shuffle": True},
        valid_loader_kwargs={"batch_size": 5},
    )
    torch.save(
        _parameters(brain.modules),
        os.path.join(out_dir, f"rank{rank}_{mode}_params.pt"),
    )
    # a sharded test set: every rank sees a different half (with padding)
    test = make_dataset(10, multi, seed=3, prefix="te")
    sampler = torch.utils.data.DistributedSampler(test, shuffle=False)
    brain.evaluate(
        test,
        test_loader_kwargs={"batch_size": 2, "sampler": sampler},
    )
    with open(os.path.join(out_dir, f"rank{rank}_{mode}.json"), "w") as f:
        json.dump(
            {
                "valid": brain.valid_stats,
                "test": brain.test_stats,
                "n_test_local": len(brain.stats.ids),
                "world_size": torch.distributed.get_world_size(),
                "train_batches": brain.seen_batches,
            },
            f,
        )


def main(out_dir: str):
    """DDP worker entry point: single-label then multi-label run.

    Arguments
    ---------
    out_dir : str
        Output folder.
    """
    run_opts = {
        "device": "cpu",
        "distributed_backend": "gloo",
        "noprogressbar": True,
    }
    sb.utils.distributed.ddp_init_group(run_opts)
    torch.set_num_threads(1)
    for multi in (False, True):
        run_ddp(out_dir, multi, run_opts)
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
