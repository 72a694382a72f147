"""Published AST weights: Hugging Face ids, release URLs, timm names, aliases.

:func:`resolve_weights` turns a weight *source* into a local path that
:func:`ast_sb.weights.pretrained.read_state_dict` reads. A source is, in this order:

* a local file or folder (returned unchanged, nothing is downloaded);
* an ``http(s)://`` URL, e.g. an original AST release checkpoint; the file
  is cached under ``torch.hub.get_dir()/checkpoints/<hash of the URL>/``
  (keyed by the full URL, so two URLs with the same file name never share
  an entry), complete files only (``Content-Length`` is checked, a
  download enters the cache by a rename), with connect / read timeouts and
  bounded retries (:mod:`ast_sb.weights.download`), and its SHA-256 is checked
  when one is known (``sha256=`` or a ``#sha256=<hex>`` URL fragment);
* ``timm:<name>`` or a timm model name with pretrained weights (e.g.
  ``deit_base_distilled_patch16_384``): timm's own pretrained config gives
  the Hugging Face repository of the ImageNet weights;
* an alias of a published checkpoint (:data:`PUBLISHED_CHECKPOINTS` of
  :mod:`ast_sb.weights.published`, re-exported here, e.g.
  ``audioset-10-10-0.4593`` or its release file name
  ``audioset_10_10_0.4593.pth``): the original release URL, then the
  Hugging Face copy;
* a Hugging Face model id, ``org/name`` or ``org/name@revision`` (also
  ``hf://org/name``), downloaded with ``huggingface_hub`` into its cache
  (``HF_HUB_CACHE``, ``HF_ENDPOINT`` and ``HF_HUB_OFFLINE`` are honoured,
  also when set after ``huggingface_hub`` was imported). ``revision`` pins a
  branch, tag or commit; with a commit hash a cached file is used without
  any request.

Offline (``HF_HUB_OFFLINE=1`` or ``local_files_only=True``) only the caches
are read; a source that is not cached raises
:class:`WeightsUnavailableError`, whose message says what to download and
where to put it.

No checksum is published for the original AST release files, so the alias
table stores none: their downloads are verified only when the caller gives
a SHA-256 (the log prints the digest of every download so it can be pinned).
Every Hugging Face file is checked against the hash the hub announced for
it (its ETag, which ``huggingface_hub`` uses as the name of the cached
blob: the SHA-256 of an LFS file, the git SHA-1 of another); a file that
does not match is deleted from the cache and refused
(:class:`ChecksumError`).

Authors
 * ast_sb developers 2026
"""

import hashlib
import logging
import os
import re
import tempfile
import urllib.parse
from typing import Dict, List, Optional, Tuple

import torch

from ast_sb.errors import AudioSpectrogramTransformerError
from ast_sb.weights.download import (
    DownloadError,
    fetch_to_file,
    file_sha256 as _file_sha256,
    git_blob_sha1,
)
from ast_sb.weights.published import (
    IMAGENET_TIMM_NAMES,
    PUBLISHED_CHECKPOINTS,
    PublishedCheckpoint,
    _alias_key,
    find_published,
)

__all__ = [
    "ChecksumError",
    "PUBLISHED_CHECKPOINTS",
    "PublishedCheckpoint",
    "WeightsUnavailableError",
    "cached_download_hint",
    "download_hub",
    "download_url",
    "find_published",
    "resolve_weights",
    "verify_hub_file",
]

logger = logging.getLogger(__name__)

HUB_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
HUB_EXTRA_FILES = ("config.json", "preprocessor_config.json")
CHECKPOINT_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".safetensors")
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_GIT_SHA1 = _COMMIT
# files this process downloaded or took from a cache: real path -> source
_CACHED_DOWNLOADS: Dict[str, str] = {}
# hub blobs whose hash matched: real path -> (inode, size, mtime)
_VERIFIED: Dict[str, Tuple[int, int, int]] = {}


class WeightsUnavailableError(
    AudioSpectrogramTransformerError, FileNotFoundError
):
    """Weights that are neither cached nor downloadable (offline, no network).

    Example
    -------
    >>> raise WeightsUnavailableError("download X to Y")
    Traceback (most recent call last):
    ...
    ast_sb.weights.hub.WeightsUnavailableError: download X to Y
    """


class ChecksumError(AudioSpectrogramTransformerError, ValueError):
    """A downloaded or cached file whose SHA-256 is not the expected one.

    Example
    -------
    >>> raise ChecksumError("bad digest")
    Traceback (most recent call last):
    ...
    ast_sb.weights.hub.ChecksumError: bad digest
    """


class CheckpointNotInRepoError(
    AudioSpectrogramTransformerError, FileNotFoundError
):
    """A Hugging Face repository without a weights file.

    Example
    -------
    >>> issubclass(CheckpointNotInRepoError, FileNotFoundError)
    True
    """


def _offline(local_files_only: Optional[bool]) -> bool:
    """``local_files_only`` or, when None, ``HF_HUB_OFFLINE`` (now or at
    ``huggingface_hub``'s import)."""
    if local_files_only is not None:
        return bool(local_files_only)
    from huggingface_hub import constants

    flag = os.environ.get("HF_HUB_OFFLINE", "").upper()
    return constants.is_offline_mode() or flag in {"1", "ON", "YES", "TRUE"}


def _check_sha256(sha256: Optional[str]) -> Optional[str]:
    if sha256 is None:
        return None
    sha256 = str(sha256).strip().lower()
    if not _SHA256.match(sha256):
        raise ValueError(
            f"sha256 must be 64 hexadecimal digits, got {sha256!r}"
        )
    return sha256


def _split_url(url: str, sha256: Optional[str]) -> Tuple[str, Optional[str]]:
    """Removes a ``#sha256=<hex>`` fragment and merges it with ``sha256``."""
    base, _, fragment = url.partition("#")
    from_url = None
    if fragment.startswith("sha256="):
        from_url = _check_sha256(fragment[len("sha256=") :])
    elif fragment:
        base = url
    sha256 = _check_sha256(sha256)
    if sha256 and from_url and sha256 != from_url:
        raise ValueError(
            f"Two different SHA-256 for {base}: {sha256} and {from_url}"
        )
    return base, sha256 or from_url


def url_cache_path(url: str, cache_dir: Optional[str] = None) -> str:
    """Where :func:`download_url` keeps the file of ``url``.

    The cache is keyed by the full URL (query included, a ``#sha256=``
    fragment not): the file keeps its name inside a folder named after the
    SHA-256 of the URL, so two URLs with the same file name never share an
    entry.

    Arguments
    ---------
    url : str
        The URL (without its ``#sha256=`` fragment).
    cache_dir : str, optional
        Cache folder; default ``torch.hub.get_dir()/checkpoints``.

    Returns
    -------
    str
        ``cache_dir/<first 16 hex digits of SHA-256(url)>/<file name>``.

    Example
    -------
    >>> url_cache_path("https://x.org/s/k/audioset_10_10_0.4593.pth?dl=1", "/c")
    '/c/d914c71e3c19f8f0/audioset_10_10_0.4593.pth'
    >>> url_cache_path("https://y.org/audioset_10_10_0.4593.pth?dl=1", "/c")
    '/c/a723f06abcc2cd7e/audioset_10_10_0.4593.pth'
    """
    if cache_dir is None:
        cache_dir = os.path.join(torch.hub.get_dir(), "checkpoints")
    name = os.path.basename(urllib.parse.urlparse(url).path)
    if not name or name in (".", ".."):
        raise ValueError(f"The URL {url} does not end with a file name")
    key = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
    return os.path.join(os.fspath(cache_dir), key, name)


def _remember(path: str, source: str) -> None:
    _CACHED_DOWNLOADS[os.path.realpath(path)] = source


def cached_download_hint(path: str) -> str:
    """What to delete when a file from a download cache does not load.

    Arguments
    ---------
    path : str
        A file (or HF model folder) that failed to load.

    Returns
    -------
    str
        A sentence naming the cached file to delete, or "" when ``path`` is
        not a download of this process nor in the default caches.

    Example
    -------
    >>> cached_download_hint("/nowhere/model.pth")
    ''
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        for name in HUB_WEIGHT_FILES:
            if os.path.exists(os.path.join(path, name)):
                path = os.path.join(path, name)
                break
    real = os.path.realpath(path)
    source = _CACHED_DOWNLOADS.get(real)
    caches = [os.path.join(torch.hub.get_dir(), "checkpoints")]
    try:
        from huggingface_hub import constants

        caches.append(os.environ.get("HF_HUB_CACHE") or constants.HF_HUB_CACHE)
    except ImportError:  # pragma: no cover - a dependency
        pass
    in_cache = any(
        real.startswith(os.path.realpath(c) + os.sep) for c in caches
    )
    if source is None and not in_cache:
        return ""
    what = f" of {source}" if source else ""
    return (
        f" It is a cached download{what}: delete {real} to download it again."
    )


def download_url(
    url: str,
    sha256: Optional[str] = None,
    cache_dir: Optional[str] = None,
    local_files_only: Optional[bool] = None,
    timeout: Optional[float] = None,
    attempts: Optional[int] = None,
    backoff: Optional[float] = None,
) -> str:
    """Downloads ``url`` once into the cache and returns the local file.

    A cached file is used without any request. A new download goes to a
    temporary file in the cache folder (:func:`ast_sb.weights.download.fetch_to_file`:
    connect / read timeouts, bounded retries, a body shorter than its
    ``Content-Length`` is an error) and is renamed into the cache only when
    complete and, when a SHA-256 is given, after it matched: a truncated,
    corrupt or tampered file never lands in the cache.

    Arguments
    ---------
    url : str
        ``http(s)://`` URL; a ``#sha256=<hex>`` fragment gives the checksum.
    sha256 : str, optional
        Expected SHA-256 (hex) of the file.
    cache_dir : str, optional
        Cache folder (default ``torch.hub.get_dir()/checkpoints``).
    local_files_only : bool, optional
        Only use the cache (default: ``HF_HUB_OFFLINE``).
    timeout : float, optional
        Seconds to wait for the connection and for each read (default
        ``ast_sb.weights.download.TIMEOUT_S``, 60).
    attempts : int, optional
        Tries in all (default ``ast_sb.weights.download.ATTEMPTS``, 4).
    backoff : float, optional
        Seconds before the first retry, doubled before each next one
        (default ``ast_sb.weights.download.BACKOFF_S``, 1).

    Returns
    -------
    str
        The cached file.

    Example
    -------
    >>> download_url("https://example.org/w/none.pth", cache_dir="/nonexistent",
    ...              local_files_only=True)
    Traceback (most recent call last):
    ...
    ast_sb.weights.hub.WeightsUnavailableError: https://example.org/w/none.pth is not in the cache and downloads are off (HF_HUB_OFFLINE / local_files_only). Download it on a machine with network access and put it at /nonexistent/.../none.pth (or pass the local file instead).
    """
    url, sha256 = _split_url(url, sha256)
    path = url_cache_path(url, cache_dir)
    if os.path.isfile(path):
        if sha256 is not None and _file_sha256(path) != sha256:
            raise ChecksumError(
                f"The cached file {path} does not have the SHA-256 {sha256} "
                f"given for {url}; delete it to download it again."
            )
        logger.info("Using cached %s for %s", path, url)
        _remember(path, url)
        return path
    where = (
        f"Download it on a machine with network access and put it at "
        f"{path} (or pass the local file instead)."
    )
    if _offline(local_files_only):
        raise WeightsUnavailableError(
            f"{url} is not in the cache and downloads are off "
            f"(HF_HUB_OFFLINE / local_files_only). {where}"
        )
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    handle, partial = tempfile.mkstemp(
        prefix=f".{os.path.basename(path)}.", suffix=".partial", dir=folder
    )
    os.close(handle)
    try:
        logger.info("Downloading %s to %s", url, path)
        fetch_to_file(url, partial, timeout, attempts, backoff)
        digest = _file_sha256(partial)
        if sha256 is not None and digest != sha256:
            raise ChecksumError(
                f"The download of {url} has SHA-256 {digest}, not the "
                f"expected {sha256}; it was not kept."
            )
        os.replace(partial, path)
    except (DownloadError, OSError) as err:
        raise WeightsUnavailableError(
            f"Cannot download {url}: {err}. {where}"
        ) from err
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    if sha256 is None:
        logger.info(
            "Downloaded %s (SHA-256 %s; no checksum was given, pass "
            "sha256=%s to pin it)",
            url,
            digest,
            digest,
        )
    _remember(path, url)
    return path


def verify_hub_file(path: str) -> Optional[str]:
    """Checks a ``huggingface_hub`` cache file against its announced hash.

    ``huggingface_hub`` stores a download as ``blobs/<ETag>`` (the snapshot
    file links to it); the hub's ETag is the SHA-256 of an LFS file and the
    git SHA-1 of another file. A blob whose content does not have that hash
    is deleted (with its snapshot link) and refused. The hash is computed
    once per process and file (again when the file changes): about 1.3 s
    for a 350 MB model on a shared Xeon core.

    Arguments
    ---------
    path : str
        A file returned by ``hf_hub_download``.

    Returns
    -------
    str or None
        The verified ETag; None when the file is not a named blob (symlinks
        off: ``HF_HUB_DISABLE_SYMLINKS`` or no symlink support), so there
        is nothing to check it against.

    Example
    -------
    >>> blobs = getfixture("tmpdir").mkdir("blobs")
    >>> blob = blobs / "b45ef6fec89518d314f546fd6c3025367b721684"
    >>> _ = blob.write_binary(b"Hello, World!")
    >>> verify_hub_file(str(blob))
    'b45ef6fec89518d314f546fd6c3025367b721684'
    >>> _ = blob.write_binary(b"Hello, World?")
    >>> verify_hub_file(str(blob))
    Traceback (most recent call last):
    ...
    ast_sb.weights.hub.ChecksumError: ...: its git SHA-1 is ..., not the b45ef6fec89518d314f546fd6c3025367b721684 the hub announced (ETag). The file was deleted from the cache; download it again.
    """
    blob = os.path.realpath(path)
    etag = os.path.basename(blob)
    if os.path.basename(os.path.dirname(blob)) != "blobs":
        logger.info("%s is not a hub blob: its hash is not checked", path)
        return None
    info = os.stat(blob)
    identity = (info.st_ino, info.st_size, info.st_mtime_ns)
    if _VERIFIED.get(blob) == identity:
        return etag  # checked before in this process, unchanged since
    if _SHA256.match(etag):
        kind, digest = "SHA-256", _file_sha256(blob)
    elif _GIT_SHA1.match(etag):
        kind, digest = "git SHA-1", git_blob_sha1(blob)
    else:
        logger.info("%s: ETag %r is not a known hash", path, etag)
        return None
    if digest != etag:
        for victim in {blob, os.path.abspath(path)}:
            if os.path.lexists(victim):
                os.remove(victim)
        shown = path if blob == os.path.abspath(path) else f"{path} ({blob})"
        raise ChecksumError(
            f"{shown}: its {kind} is {digest}, not the {etag} the hub "
            "announced (ETag). The file was deleted from the cache; download "
            "it again."
        )
    _VERIFIED[blob] = identity
    return etag


def _hub_error_message(repo_id: str, revision: Optional[str], files) -> str:
    rev = f" (revision {revision})" if revision else ""
    return (
        f"Download {', '.join(files)} of the Hugging Face model "
        f"{repo_id}{rev} on a machine with network access, e.g. "
        f"`hf download {repo_id} {' '.join(files)}"
        f"{' --revision ' + revision if revision else ''}` (it fills the "
        f"same cache, HF_HUB_CACHE), or download the files from "
        f"https://huggingface.co/{repo_id} into a folder and pass that "
        f"folder."
    )


def download_hub(
    repo_id: str,
    revision: Optional[str] = None,
    cache_dir: Optional[str] = None,
    local_files_only: Optional[bool] = None,
    extra_files: Tuple[str, ...] = HUB_EXTRA_FILES,
    endpoint: Optional[str] = None,
) -> str:
    """Downloads a model's weights (and configs) with ``huggingface_hub``.

    ``model.safetensors`` is preferred, else ``pytorch_model.bin``; the
    ``extra_files`` (``config.json``, ``preprocessor_config.json``) are
    fetched when the repository has them.

    Arguments
    ---------
    repo_id : str
        ``org/name``.
    revision : str, optional
        Branch, tag or commit hash (default: the main branch).
    cache_dir : str, optional
        huggingface_hub cache (default ``HF_HUB_CACHE``).
    local_files_only : bool, optional
        Only use the cache (default: ``HF_HUB_OFFLINE``).
    extra_files : tuple of str
        Optional files fetched next to the weights.
    endpoint : str, optional
        Hub URL (default ``HF_ENDPOINT``, read at call time).

    Returns
    -------
    str
        The local weights file (its folder holds the extra files).
    """
    from huggingface_hub import (
        _CACHED_NO_EXIST,
        hf_hub_download,
        try_to_load_from_cache,
    )
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    options = {
        "repo_id": repo_id,
        "revision": revision,
        "cache_dir": cache_dir or os.environ.get("HF_HUB_CACHE") or None,
        "local_files_only": _offline(local_files_only),
        "endpoint": endpoint or os.environ.get("HF_ENDPOINT") or None,
    }
    weights, errors = None, []

    def cached(filename: str):
        return try_to_load_from_cache(
            repo_id,
            filename,
            cache_dir=options["cache_dir"],
            revision=revision,
        )

    def fetch(filename: str) -> str:
        """``hf_hub_download``, then the announced hash of the file."""
        path = hf_hub_download(filename=filename, **options)
        verify_hub_file(path)
        _remember(path, f"{repo_id}/{filename}")
        return path

    pinned = revision is not None and _COMMIT.match(revision) is not None
    try:
        for filename in HUB_WEIGHT_FILES:
            if pinned and cached(filename) is _CACHED_NO_EXIST:
                continue  # known absent at this commit: no request
            try:
                weights = fetch(filename)
                break
            except EntryNotFoundError as err:
                errors.append(err)
        if weights is None:
            if any(isinstance(e, LocalEntryNotFoundError) for e in errors):
                raise errors[0]
            raise CheckpointNotInRepoError(
                f"The Hugging Face model {repo_id} has none of "
                f"{', '.join(HUB_WEIGHT_FILES)}."
            )
        for filename in extra_files:
            # the weights' download refreshed the ref of a branch, so the
            # cache of its current commit answers (also "does not exist")
            hit = cached(filename)
            if isinstance(hit, str):
                verify_hub_file(hit)
            if hit is not None:
                continue
            try:
                fetch(filename)
            except EntryNotFoundError:
                pass
    except (RepositoryNotFoundError, RevisionNotFoundError) as err:
        raise FileNotFoundError(
            f"{repo_id}{'@' + revision if revision else ''} is neither a "
            f"local file nor a Hugging Face model (or revision) that "
            f"{options['endpoint'] or 'the hub'} serves: {err}"
        ) from err
    except (
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        HfHubHTTPError,
        OSError,
    ) as err:
        if isinstance(err, CheckpointNotInRepoError):
            raise
        files = [HUB_WEIGHT_FILES[0], *extra_files]
        raise WeightsUnavailableError(
            f"{repo_id} is not a local path, and as a Hugging Face model id "
            f"it is not in the cache and cannot be downloaded "
            f"({type(err).__name__}: {str(err).splitlines()[0]}). "
            + _hub_error_message(repo_id, revision, files)
        ) from err
    return weights


def _timm_hub_id(name: str) -> Optional[str]:
    """The Hugging Face repository of a timm model's pretrained weights."""
    try:
        from timm.models import get_pretrained_cfg
    except ImportError:  # pragma: no cover - timm is a dependency
        return None
    name = IMAGENET_TIMM_NAMES.get(name, name)
    try:
        cfg = get_pretrained_cfg(name)
    except (RuntimeError, ValueError):
        return None
    return getattr(cfg, "hf_hub_id", None) if cfg is not None else None


def _split_revision(
    repo_id: str, revision: Optional[str]
) -> Tuple[str, Optional[str]]:
    repo_id, _, from_id = repo_id.partition("@")
    if from_id and revision and from_id != revision:
        raise ValueError(
            f"Two revisions for {repo_id}: {from_id!r} and {revision!r}"
        )
    return repo_id, revision or from_id or None


def _not_found(source: str) -> FileNotFoundError:
    published = find_published(source)
    hint = ""
    if published is not None:
        hint = (
            f" It is the original AST release {published.name} "
            f"({published.description}): pass {published.name!r} to "
            f"download it into the cache, or download {published.url} to "
            f"that path."
        )
    return FileNotFoundError(
        f"Checkpoint not found: {source}.{hint} Weights can be a local "
        "file or folder, an http(s) URL, a Hugging Face model id "
        "(org/name[@revision]), a timm model name (timm:<name>) or one of "
        f"the aliases {', '.join(sorted(PUBLISHED_CHECKPOINTS))}, "
        f"{', '.join(sorted(IMAGENET_TIMM_NAMES))}."
    )


def resolve_weights(
    source: str,
    revision: Optional[str] = None,
    sha256: Optional[str] = None,
    cache_dir: Optional[str] = None,
    local_files_only: Optional[bool] = None,
) -> str:
    """Turns a weight source into a local file or folder (see the module doc).

    Arguments
    ---------
    source : str
        Local path, URL, ``timm:<name>``, alias or Hugging Face id.
    revision : str, optional
        Hugging Face branch, tag or commit (hub ids and timm names only).
    sha256 : str, optional
        Expected SHA-256 of a downloaded file (URLs and aliases) or of the
        weights file (hub ids).
    cache_dir : str, optional
        Cache folder (default: torch.hub's for URLs, huggingface_hub's for
        hub ids).
    local_files_only : bool, optional
        Only use the caches (default: ``HF_HUB_OFFLINE``).

    Returns
    -------
    str
        A local checkpoint file or HF model folder.

    Example
    -------
    >>> resolve_weights(__file__) == __file__
    True
    >>> resolve_weights("missing/model.pth")
    Traceback (most recent call last):
    ...
    FileNotFoundError: Checkpoint not found: missing/model.pth. Weights can ...
    """
    source = os.fspath(source)
    if os.path.exists(source):
        return source
    text = source.strip()
    if text.startswith(("http://", "https://")):
        if revision is not None:
            raise ValueError(f"revision applies to hub ids, not to {text}")
        return download_url(text, sha256, cache_dir, local_files_only)
    if text.startswith("timm:") or (
        "/" not in text and _timm_hub_id(text) is not None
    ):
        name = text[len("timm:") :] if text.startswith("timm:") else text
        hub_id = _timm_hub_id(name)
        if hub_id is None:
            raise FileNotFoundError(
                f"timm has no pretrained weights named {name!r} "
                "(see timm.list_pretrained())."
            )
        hub_id, rev = _split_revision(hub_id, revision)
        path = download_hub(
            hub_id, rev, cache_dir, local_files_only, extra_files=()
        )
        return _verified(path, sha256)
    if text.startswith(("hf://", "hf-hub:")):
        text = text.split(":", 1)[1].lstrip("/")
        return _from_hub(text, revision, sha256, cache_dir, local_files_only)
    published = None
    if os.sep not in text and "/" not in text:
        published = PUBLISHED_CHECKPOINTS.get(_alias_key(text))
    if published is not None:
        return _from_published(
            published, revision, sha256, cache_dir, local_files_only
        )
    if text.lower().endswith(CHECKPOINT_SUFFIXES) or not _REPO_ID.match(
        text.partition("@")[0]
    ):
        raise _not_found(source)
    return _from_hub(text, revision, sha256, cache_dir, local_files_only)


def _verified(path: str, sha256: Optional[str]) -> str:
    sha256 = _check_sha256(sha256)
    if sha256 is not None:
        digest = _file_sha256(path)
        if digest != sha256:
            raise ChecksumError(
                f"{path} has SHA-256 {digest}, not the expected {sha256}."
            )
    return path


def _from_hub(text, revision, sha256, cache_dir, local_files_only) -> str:
    repo_id, revision = _split_revision(text, revision)
    weights = download_hub(repo_id, revision, cache_dir, local_files_only)
    _verified(weights, sha256)
    # the folder: config.json (HF AST) travels with the weights
    folder = os.path.dirname(weights)
    if os.path.isfile(os.path.join(folder, "config.json")):
        return folder
    return weights


def _from_published(
    published: PublishedCheckpoint,
    revision: Optional[str],
    sha256: Optional[str],
    cache_dir: Optional[str],
    local_files_only: Optional[bool],
) -> str:
    """The release URL first (as the original code downloads it), then the
    Hugging Face copy; the cache of either is used before any download.
    A SHA-256 given by the caller is the release file's: then only the
    release file (checked against it) is accepted."""
    given = _check_sha256(sha256)
    sha256 = given or published.sha256
    errors: List[str] = []
    attempts = [True] if _offline(local_files_only) else [True, False]
    for cached_only in attempts:
        try:
            return download_url(published.url, sha256, cache_dir, cached_only)
        except WeightsUnavailableError as err:
            errors.append(str(err))
        if published.hub_id is None or given is not None:
            continue
        try:
            return _from_hub(
                published.hub_id, revision, None, cache_dir, cached_only
            )
        except WeightsUnavailableError as err:
            errors.append(str(err))
    raise WeightsUnavailableError(
        f"The published checkpoint {published.name} ({published.description})"
        " is not cached and could not be downloaded. Either: "
        + " Or: ".join(dict.fromkeys(errors[-2:]))
    )
