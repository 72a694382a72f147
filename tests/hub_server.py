"""A local HTTP server with a Hugging Face hub layout and plain file URLs.

It implements only what ``huggingface_hub.hf_hub_download`` needs for one
file: ``HEAD``/``GET /{repo_id}/resolve/{revision}/{filename}`` answering
with ``X-Repo-Commit``, ``ETag`` and ``Content-Length``, and the
``X-Error-Code`` header of its 404/401 errors (``RepoNotFound``,
``RevisionNotFound``, ``EntryNotFound``). Plain URLs are served under
``/files/<name>``. Every request is recorded as ``(method, path)``.

Authors
 * ast_sb developers 2026
"""

import hashlib
import http.server
import threading
import urllib.parse
from typing import Dict, List, Optional, Tuple


class HubRepo:
    """Commits (40-hex id -> {filename: bytes}) and refs (name -> commit)."""

    def __init__(self):
        self.commits: Dict[str, Dict[str, bytes]] = {}
        self.refs: Dict[str, str] = {}

    def commit(self, files: Dict[str, bytes], ref: str = "main") -> str:
        """Adds a commit with ``files``, moves ``ref`` to it, returns its id."""
        digest = hashlib.sha1(repr(len(self.commits)).encode())
        for name in sorted(files):
            digest.update(name.encode() + hashlib.sha1(files[name]).digest())
        commit = digest.hexdigest()
        self.commits[commit] = dict(files)
        self.refs[ref] = commit
        return commit


class HubServer:
    """The server: ``repos`` (id -> HubRepo), ``files`` (name -> bytes)."""

    def __init__(self):
        self.repos: Dict[str, HubRepo] = {}
        self.files: Dict[str, bytes] = {}
        self.requests: List[Tuple[str, str]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_HEAD(self):
                self._answer(body=False)

            def do_GET(self):
                self._answer(body=True)

            def _send(self, status, headers, data: Optional[bytes]):
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data or b"")))
                self.end_headers()
                if data is not None and self.command == "GET":
                    self.wfile.write(data)

            def _answer(self, body: bool):
                path = urllib.parse.unquote(self.path.split("?")[0])
                server.requests.append((self.command, path))
                if path.startswith("/files/"):
                    data = server.files.get(path[len("/files/") :])
                    if data is None:
                        self._send(404, {}, b"not found")
                    else:
                        self._send(200, {}, data)
                    return
                parts = path.lstrip("/").split("/")
                if len(parts) < 5 or parts[2] != "resolve":
                    self._send(404, {}, b"unknown endpoint")
                    return
                repo_id = "/".join(parts[:2])
                revision, filename = parts[3], "/".join(parts[4:])
                repo = server.repos.get(repo_id)
                if repo is None:
                    self._send(401, {"X-Error-Code": "RepoNotFound"}, b"")
                    return
                commit = repo.refs.get(revision, revision)
                if commit not in repo.commits:
                    self._send(404, {"X-Error-Code": "RevisionNotFound"}, b"")
                    return
                data = repo.commits[commit].get(filename)
                if data is None:
                    headers = {
                        "X-Error-Code": "EntryNotFound",
                        "X-Repo-Commit": commit,
                    }
                    self._send(404, headers, b"")
                    return
                etag = hashlib.sha256(data).hexdigest()
                headers = {"X-Repo-Commit": commit, "ETag": f'"{etag}"'}
                self._send(200, headers, data)

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, daemon=True
        )

    def repo(self, repo_id: str) -> HubRepo:
        """The repository ``repo_id`` (created when new)."""
        return self.repos.setdefault(repo_id, HubRepo())

    def start(self) -> "HubServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
