"""Published weights over real HTTP: hub ids, release URLs, timm names, aliases.

A local server (``tests/hub_server.py``) plays the Hugging Face hub
(``HF_ENDPOINT`` points at it) and a plain file host; the download code of
``huggingface_hub`` and ``torch.hub`` runs unmodified.

Authors
 * ast_sb developers 2026
"""

import dataclasses
import hashlib
import io
import os
import tempfile
from pathlib import Path

import huggingface_hub.constants
import pytest
import torch
from hub_server import HubServer

from ast_sb.lobes.model import (
    AudioSpectrogramTransformerClassifier,
    AudioSpectrogramTransformerEncoder,
)
from ast_sb.training.recipe import load_pretrained_weights
from ast_sb.weights import download, hub
from ast_sb.weights.hub import (
    ChecksumError,
    WeightsUnavailableError,
    resolve_weights,
)
from ast_sb.weights.pretrained import (
    CheckpointError,
    build_from_hf,
    export_original,
    load_pretrained,
    save_hf_folder,
)

REPO = "test-org/ast-tiny"


def _model(seed):
    torch.manual_seed(seed)
    encoder = AudioSpectrogramTransformerEncoder(
        "tiny224", depth=1, target_length=128
    )
    head = AudioSpectrogramTransformerClassifier(192, 4, output="logits")
    return encoder, head


def _hf_files(seed):
    encoder, head = _model(seed)
    with tempfile.TemporaryDirectory() as folder:
        save_hf_folder(folder, encoder, head, labels=list("abcd"))
        files = {
            name: open(os.path.join(folder, name), "rb").read()
            for name in os.listdir(folder)
        }
    return files, encoder, head


def _original_bytes(seed):
    encoder, head = _model(seed)
    buffer = io.BytesIO()
    torch.save(export_original(encoder, head), buffer)
    return buffer.getvalue(), encoder


def _same(a, b):
    return all(
        torch.equal(x, y)
        for x, y in zip(a.state_dict().values(), b.state_dict().values())
    )


@pytest.fixture
def server(tmp_path, monkeypatch):
    """The server, with HF_ENDPOINT / caches pointed at it / tmp_path."""
    srv = HubServer().start()
    monkeypatch.setenv("HF_ENDPOINT", srv.url)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    # online for these tests, even in an offline CI environment
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    # short waits: a failing download retries at once
    monkeypatch.setattr(download, "TIMEOUT_S", 5.0)
    monkeypatch.setattr(download, "BACKOFF_S", 0.01)
    yield srv
    srv.stop()


def test_hub_id_loads_caches_and_pins_revisions(server):
    old_files, old_enc, _ = _hf_files(0)
    new_files, new_enc, new_head = _hf_files(1)
    # the old commit has the weights as pytorch_model.bin only
    from safetensors.torch import load

    buffer = io.BytesIO()
    torch.save(load(old_files.pop("model.safetensors")), buffer)
    old_files["pytorch_model.bin"] = buffer.getvalue()
    repo = server.repo(REPO)
    old_commit = repo.commit(old_files)
    repo.commit(new_files)

    encoder, head = _model(2)
    report = load_pretrained(encoder, REPO, head)
    assert report == {"format": "hf", "head_loaded": True, "source": REPO}
    assert _same(encoder, new_enc) and _same(head, new_head)
    gets = [p for m, p in server.requests if m == "GET"]
    assert f"/{REPO}/resolve/main/model.safetensors" in gets

    # the main branch again: huggingface_hub checks the ETag, downloads nothing
    n_before = len(server.requests)
    load_pretrained(encoder, REPO, head)
    assert all(m == "HEAD" for m, _ in server.requests[n_before:])

    # pinned to the old commit: other weights, then no request at all
    load_pretrained(encoder, f"{REPO}@{old_commit}")
    assert _same(encoder, old_enc)
    n_before = len(server.requests)
    encoder, _ = _model(3)
    load_pretrained(encoder, REPO, revision=old_commit)
    assert _same(encoder, old_enc)
    assert server.requests[n_before:] == []


def test_build_from_hf_and_convert_from_hub_id(server, tmp_path):
    files, encoder, head = _hf_files(0)
    server.repo(REPO).commit(files)
    built, built_head, labels = build_from_hf(REPO)
    assert labels == list("abcd")
    feats = torch.randn(2, 128, 128)
    with torch.no_grad():
        # (same weights; the head's LayerNorm eps comes from config.json)
        expected = head(encoder(feats))
        assert torch.allclose(built_head(built(feats)), expected, atol=1e-5)

    from ast_sb.cli import main

    out = tmp_path / "converted"
    assert main(["convert", REPO, str(out), "--single-label"]) == 0
    assert (out / "hyperparams.yaml").is_file()


def test_url_checksum_cache_and_mismatch(server, tmp_path):
    data, original_enc = _original_bytes(0)
    server.files["ast_tiny.pth"] = data
    url = f"{server.url}/files/ast_tiny.pth"
    digest = hashlib.sha256(data).hexdigest()
    cached = Path(hub.url_cache_path(url))
    assert cached.name == "ast_tiny.pth"

    with pytest.raises(ChecksumError, match="not the expected"):
        resolve_weights(url, sha256="0" * 64)
    assert not cached.exists()  # a bad download is not kept
    assert os.listdir(cached.parent) == []

    encoder, _ = _model(5)
    load_pretrained(encoder, f"{url}#sha256={digest}")
    assert _same(encoder, original_enc)
    assert cached.is_file()

    n_before = len(server.requests)
    encoder, _ = _model(6)
    load_pretrained(encoder, url, sha256=digest)
    assert _same(encoder, original_enc)
    assert server.requests[n_before:] == []
    with pytest.raises(ChecksumError, match="delete it"):
        resolve_weights(url, sha256="1" * 64)


def test_offline_errors_say_what_to_download_and_where(server, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    server.repo(REPO).commit(_hf_files(0)[0])
    with pytest.raises(WeightsUnavailableError) as err:
        resolve_weights(REPO)
    assert f"hf download {REPO} model.safetensors" in str(err.value)

    with pytest.raises(WeightsUnavailableError) as err:
        resolve_weights("audioset_10_10_0.4593.pth")
    message = str(err.value)
    assert "dropbox.com/s/ca0b1v2nlxzyeb4/audioset_10_10_0.4593.pth" in message
    url = hub.PUBLISHED_CHECKPOINTS["audioset-10-10-0.4593"].url
    cache = os.path.join(os.environ["TORCH_HOME"], "hub", "checkpoints")
    assert hub.url_cache_path(url).startswith(cache + os.sep)
    assert hub.url_cache_path(url) in message
    assert "MIT/ast-finetuned-audioset-10-10-0.4593" in message
    assert server.requests == []


def test_unreachable_url_and_unknown_sources(server):
    with pytest.raises(WeightsUnavailableError, match="put it at"):
        resolve_weights("http://127.0.0.1:9/none/w.pth")
    with pytest.raises(FileNotFoundError, match="neither a local file"):
        resolve_weights("no-org/no-model")
    with pytest.raises(FileNotFoundError, match="aliases audioset-10-10"):
        resolve_weights("results/missing.ckpt")


def test_alias_downloads_the_release_then_the_hub_copy(server, monkeypatch):
    data, original_enc = _original_bytes(0)
    published = dataclasses.replace(
        hub.PUBLISHED_CHECKPOINTS["audioset-10-10-0.4593"],
        url=f"{server.url}/files/audioset_10_10_0.4593.pth?dl=1",
        hub_id=REPO,
    )
    monkeypatch.setitem(
        hub.PUBLISHED_CHECKPOINTS, "audioset-10-10-0.4593", published
    )
    # the release URL is gone: the hub copy is used
    files, hf_enc, _ = _hf_files(1)
    server.repo(REPO).commit(files)
    encoder, _ = _model(7)
    load_pretrained(encoder, "audioset-10-10-0.4593")
    assert _same(encoder, hf_enc)
    # a checksum names the release file: no hub copy instead of it
    with pytest.raises(WeightsUnavailableError, match="404"):
        resolve_weights("audioset-10-10-0.4593", sha256="0" * 64)
    # the README's file name, with the release file online
    server.files["audioset_10_10_0.4593.pth"] = data
    n_before = len(server.requests)
    encoder, _ = _model(8)
    load_pretrained(encoder, "audioset_10_10_0.4593.pth")
    assert _same(encoder, hf_enc)  # the cached hub copy wins, no download
    assert server.requests[n_before:] == []
    digest = hashlib.sha256(data).hexdigest()
    load_pretrained(encoder, "audioset-10-10-0.4593", sha256=digest)
    assert _same(encoder, original_enc)  # the checked release file


def test_timm_name_uses_timm_pretrained_config(server):
    import timm
    from safetensors.torch import save

    torch.manual_seed(0)
    deit = timm.create_model("deit_tiny_distilled_patch16_224", depth=1)
    server.repo("timm/deit_tiny_distilled_patch16_224.fb_in1k").commit(
        {"model.safetensors": save(deit.state_dict())}
    )
    encoder = AudioSpectrogramTransformerEncoder(
        "tiny224", depth=1, target_length=128
    )
    assert load_pretrained(encoder, "imagenet-tiny224")["format"] == "timm"
    expected = deit.patch_embed.proj.weight.sum(dim=1, keepdim=True)
    assert torch.equal(encoder.patch_embed.proj.weight, expected)
    assert torch.equal(
        encoder.blocks[0].mlp.fc1.weight, deit.blocks[0].mlp.fc1.weight
    )
    again = AudioSpectrogramTransformerEncoder(
        "tiny224", depth=1, target_length=128
    )
    load_pretrained(again, "timm:deit_tiny_distilled_patch16_224")
    assert _same(again, encoder)


def test_recipe_starts_from_a_fresh_head_unless_asked(server):
    files, _, pretrained_head = _hf_files(0)
    server.repo(REPO).commit(files)
    encoder, head = _model(9)
    fresh = {k: v.clone() for k, v in head.state_dict().items()}
    hparams = {
        "embedding_model": encoder,
        "classifier": head,
        "pretrained_path": REPO,
    }
    assert load_pretrained_weights(hparams)["head_loaded"] is False
    assert all(torch.equal(v, fresh[k]) for k, v in head.state_dict().items())
    hparams["keep_pretrained_head"] = True
    assert load_pretrained_weights(hparams)["head_loaded"] is True
    assert _same(head, pretrained_head)


def test_convert_alias_takes_the_published_geometry(
    server, monkeypatch, tmp_path
):
    data, _ = _original_bytes(0)  # 128 frames, like the Speech Commands model
    server.files["speechcommands_10_10_0.9812.pth"] = data
    published = dataclasses.replace(
        hub.PUBLISHED_CHECKPOINTS["speechcommands-10-10-0.9812"],
        url=f"{server.url}/files/speechcommands_10_10_0.9812.pth?dl=1",
    )
    monkeypatch.setitem(
        hub.PUBLISHED_CHECKPOINTS, "speechcommands-10-10-0.9812", published
    )
    from ast_sb.cli import main

    out = tmp_path / "sc"
    assert main(["convert", "speechcommands-10-10-0.9812", str(out)]) == 0
    text = (out / "hyperparams.yaml").read_text()
    assert "target_length: 128" in text
    assert "-6.845978" in text  # Speech Commands normalisation


# --- downloads that go wrong (issue 24): truncated, dead, stalled, tampered


def _served_checkpoint(server, name="w.pth", seed=0):
    data, encoder = _original_bytes(seed)
    server.files[name] = data
    return data, encoder, f"{server.url}/files/{name}"


def _cache_is_clean(url):
    """No cached file and no temporary file left for ``url``."""
    folder = os.path.dirname(hub.url_cache_path(url))
    return not os.path.isdir(folder) or os.listdir(folder) == []


@pytest.mark.parametrize("kind", ["truncate", "die"])
def test_cut_download_is_retried_and_never_cached(server, kind):
    data, original_enc, url = _served_checkpoint(server)
    server.files["w.pth"] = data
    # cut in every try: an error saying so, nothing in the cache
    server.faults["/files/w.pth"] = [(kind, 1000)] * 2
    with pytest.raises(WeightsUnavailableError) as err:
        hub.download_url(url, attempts=2, backoff=0)
    if kind == "truncate":
        assert f"sent 1000 of the {len(data)} bytes" in str(err.value)
    assert "2 tries failed" in str(err.value)
    assert _cache_is_clean(url)
    # cut once: the retry gets the whole file
    server.faults["/files/w.pth"] = [(kind, 1000)]
    path = hub.download_url(url)
    assert open(path, "rb").read() == data
    encoder, _ = _model(5)
    load_pretrained(encoder, url)
    assert _same(encoder, original_enc)


def test_stalled_download_times_out(server):
    data, _, url = _served_checkpoint(server)
    server.faults["/files/w.pth"] = [("stall", 10)] * 2
    with pytest.raises(WeightsUnavailableError, match="timeout") as err:
        hub.download_url(url, timeout=0.3, attempts=2, backoff=0)
    assert "no answer for 0.3 s" in str(err.value)
    assert server.requests.count(("GET", "/files/w.pth")) == 2
    assert _cache_is_clean(url)


def test_cache_is_keyed_by_the_full_url(server):
    first, _ = _original_bytes(0)
    second, _ = _original_bytes(1)
    server.files["a/w.pth"] = first
    server.files["b/w.pth"] = second
    path_a = hub.download_url(f"{server.url}/files/a/w.pth")
    path_b = hub.download_url(f"{server.url}/files/b/w.pth")
    assert path_a != path_b
    assert os.path.basename(path_a) == os.path.basename(path_b) == "w.pth"
    assert open(path_a, "rb").read() == first
    assert open(path_b, "rb").read() == second
    assert server.requests.count(("GET", "/files/b/w.pth")) == 1


def test_corrupt_cached_download_names_the_file_to_delete(server):
    data, _, url = _served_checkpoint(server)
    cached = hub.url_cache_path(url)
    os.makedirs(os.path.dirname(cached))
    with open(cached, "wb") as fout:  # e.g. a download cut by an old version
        fout.write(data[:1000])
    encoder, _ = _model(5)
    with pytest.raises(CheckpointError) as err:
        load_pretrained(encoder, url)
    assert f"delete {os.path.realpath(cached)} to download it again" in str(
        err.value
    )


def test_tampered_hub_file_is_refused_and_deleted(server):
    files, hf_enc, _ = _hf_files(0)
    repo = server.repo(REPO)
    repo.commit(files)
    good = files["model.safetensors"]
    tampered = good[:-4] + bytes(b ^ 0xFF for b in good[-4:])  # same size
    path = f"/{REPO}/resolve/main/model.safetensors"
    server.faults[path] = [("replace", tampered)]
    with pytest.raises(ChecksumError, match="the hub announced") as err:
        resolve_weights(REPO)
    etag = hashlib.sha256(good).hexdigest()
    assert etag in str(err.value)
    blobs = os.path.join(
        os.environ["HF_HUB_CACHE"], "models--test-org--ast-tiny", "blobs"
    )
    assert etag not in os.listdir(blobs)  # not kept
    # the hub serves the right bytes again: downloaded and used
    encoder, _ = _model(3)
    load_pretrained(encoder, REPO)
    assert _same(encoder, hf_enc)
    # a cached blob changed later is refused (and deleted) too
    blob = os.path.join(blobs, etag)
    with open(blob, "r+b") as fout:
        fout.seek(-4, os.SEEK_END)
        fout.write(b"\0\0\0\0")
    with pytest.raises(ChecksumError, match="the hub announced"):
        resolve_weights(REPO)
    assert not os.path.exists(blob)
