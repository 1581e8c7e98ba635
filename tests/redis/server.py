"""A real redis-server on 127.0.0.1, started and stopped by the tests, and worker processes."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import redis
from redis.crc import key_slot

DIM = 32
SEED = 11
WORKER = Path(__file__).with_name("worker.py")
ROOT = Path(__file__).resolve().parents[2]


def vec(key: int) -> npt.NDArray[np.float32]:
    """The same vector for a key in every process; random keys are far apart in 32 dimensions."""
    return np.random.default_rng(key).standard_normal(DIM).astype(np.float32)


def wait_until(cond: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def required_binary(name: str, needed_by: str, debian_package: str) -> str:
    """The path of ``name``; a missing binary fails the test (never skips it)."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} not found: {needed_by} need it on PATH "
            f"(Debian: apt-get install -y {debian_package})"
        )
    return path


class RedisServer:
    """redis-server without persistence in its own directory; ``kill`` then ``start`` is a crash."""

    def __init__(self, workdir: Path, *extra: str) -> None:
        self.binary = required_binary("redis-server", "the Redis tests", "redis-server")
        self.workdir = workdir
        self.extra = extra
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self, **kwargs: Any) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2, **kwargs)

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.workdir),
                *self.extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip

        def up() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return True
            except OSError:
                assert self.proc is not None and self.proc.poll() is None, "redis-server exited"
                return False

        wait_until(up, timeout=10, what="redis-server to accept connections")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=5)
        self.proc = None


class ClusterServers:
    """A Redis Cluster of redis-server nodes on 127.0.0.1, no replicas; ``url`` names the first.

    ``kill`` then ``start`` restarts the nodes from their cluster config: the same cluster, empty.
    """

    def __init__(self, workdir: Path, nodes: int = 3) -> None:
        self.cli = required_binary("redis-cli", "the Redis Cluster tests", "redis-tools")
        self.nodes: list[RedisServer] = []
        for i in range(nodes):
            (workdir / f"node{i}").mkdir()
            # the bus port is set because the default (port + 10000) may not be free
            flags = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
            flags += ["--cluster-port", str(free_port())]
            self.nodes.append(RedisServer(workdir / f"node{i}", *flags))
        self.created = False

    @property
    def url(self) -> str:
        return self.nodes[0].url

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        if not self.created:
            addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
            create = ["--cluster", "create", *addresses, "--cluster-replicas", "0"]
            subprocess.run(
                [self.cli, *create, "--cluster-yes"],
                check=True,
                stdout=subprocess.DEVNULL,
                timeout=60,
            )
            self.created = True
        for node in self.nodes:
            wait_until(
                lambda node=node: (
                    node.client().execute_command("CLUSTER INFO")["cluster_state"] == "ok"
                ),
                timeout=30,
                what=f"cluster_state:ok on node {node.port}",
            )

    def owner(self, key: str) -> RedisServer:
        """The node serving ``key``'s slot."""
        slot = key_slot(key.encode())
        for start, end, (_, port, *_) in self.nodes[0].client().execute_command("CLUSTER SLOTS"):
            if start <= slot <= end:
                return next(node for node in self.nodes if node.port == port)
        raise AssertionError(f"no node serves slot {slot}")

    def kill(self) -> None:
        for node in self.nodes:
            node.kill()


class Worker:
    """A process holding one shared cache, driven by JSON lines (see worker.py)."""

    def __init__(self, url: str, namespace: str = "test", **options: Any) -> None:
        config = json.dumps({"url": url, "namespace": namespace, **options})
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), config],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
            text=True,
            bufsize=1,
        )
        self._replies: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        # The worker says "ready" once its first sync is done.
        assert self._reply(30) == {"ready": True}

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._replies.put(line)

    def _reply(self, timeout: float) -> Any:
        try:
            return json.loads(self._replies.get(timeout=timeout))
        except queue.Empty:
            raise AssertionError(f"worker {self.proc.pid} did not answer in {timeout}s") from None

    def call(self, op: str, timeout: float = 10, **args: Any) -> Any:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        reply = self._reply(timeout)
        # Any exception inside the worker is a failure: none may reach a caller.
        assert "error" not in reply, f"worker raised: {reply['error']}"
        return reply["ok"]

    def present(self, keys: range | list[int], partition: str | None = None) -> set[int]:
        return set(self.call("present", keys=list(keys), partition=partition))

    def stats(self) -> dict[str, int]:
        return dict(self.call("stats"))

    def pause(self) -> None:
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=5)

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(AssertionError, BrokenPipeError, OSError):
                self.call("close", timeout=5)
            self.proc.kill()
        self.proc.wait(timeout=5)
