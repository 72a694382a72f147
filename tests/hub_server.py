"""A local HTTP server with a Hugging Face hub layout and plain file URLs.

It implements only what ``huggingface_hub.hf_hub_download`` needs for one
file: ``HEAD``/``GET /{repo_id}/resolve/{revision}/{filename}`` answering
with ``X-Repo-Commit``, ``ETag`` and ``Content-Length``, and the
``X-Error-Code`` header of its 404/401 errors (``RepoNotFound``,
``RevisionNotFound``, ``EntryNotFound``). Plain URLs are served under
``/files/<name>``. Every request is recorded as ``(method, path)``.

Faults: ``server.faults[path]`` is a list of faults, one used by each next
``GET`` of ``path`` (then healthy again), each a ``(kind, value)``:
``("truncate", n)`` sends the full ``Content-Length`` but only the first
``n`` bytes, then closes the connection; ``("die", n)`` sends ``n`` bytes
and resets the connection (a server killed mid-transfer); ``("stall", n)``
sends ``n`` bytes, then nothing until the server stops; ``("replace",
data)`` sends ``data`` instead of the file, with the file's headers (same
ETag; same ``Content-Length`` when ``data`` has the file's size).

Authors
 * ast_sb developers 2026
"""

import hashlib
import http.server
import socket
import struct
import threading
import urllib.parse
from typing import Any, Dict, List, Optional, Tuple


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
        self.faults: Dict[str, List[Tuple[str, Any]]] = {}
        self._stopping = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_HEAD(self):
                self._answer(body=False)

            def do_GET(self):
                self._answer(body=True)

            def _send(self, status, headers, data: Optional[bytes]):
                fault = None
                if status == 200 and self.command == "GET":
                    queue = server.faults.get(self._path, [])
                    fault = queue.pop(0) if queue else None
                kind, value = fault or (None, None)
                if kind == "replace":
                    data = value
                self.send_response(status)
                for key, value_ in headers.items():
                    self.send_header(key, value_)
                self.send_header("Content-Length", str(len(data or b"")))
                self.end_headers()
                if data is None or self.command != "GET":
                    return
                if kind in ("truncate", "die", "stall"):
                    self.wfile.write(data[:value])
                    self.wfile.flush()
                    if kind == "stall":
                        server._stopping.wait(60)
                    elif kind == "die":  # RST instead of FIN
                        self.connection.setsockopt(
                            socket.SOL_SOCKET,
                            socket.SO_LINGER,
                            struct.pack("ii", 1, 0),
                        )
                    self.close_connection = True
                    self.connection.close()
                    return
                self.wfile.write(data)

            def _answer(self, body: bool):
                path = urllib.parse.unquote(self.path.split("?")[0])
                self._path = path
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

        class Quiet(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # the connections a fault closed

        self._httpd = Quiet(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), daemon=True
        )

    def repo(self, repo_id: str) -> HubRepo:
        """The repository ``repo_id`` (created when new)."""
        return self.repos.setdefault(repo_id, HubRepo())

    def start(self) -> "HubServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
