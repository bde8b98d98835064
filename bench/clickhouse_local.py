"""Local ClickHouse servers (Debian's clickhouse-server 18.16) and ZooKeeper for tests and benchmarks.

Every server gets its own free loopback ports and a config written into a temporary directory: no
system service, no fixed port, nothing outside that directory. Processes are started here and only
the processes started here are stopped (by their own pid).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bench.ports import free_ports

SERVER_BINARY = "/usr/sbin/clickhouse-server"
ZOOKEEPER_CLASSPATH = "/usr/share/java/zookeeper.jar"

_USERS = """<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <max_memory_usage>4000000000</max_memory_usage>
      <load_balancing>in_order</load_balancing>
    </default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
"""


class ChildProcess:
    """A process started here (its Popen in `process`), stopped only by its own pid."""

    process: subprocess.Popen[bytes] | None

    def kill(self) -> None:
        """kill -9, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM, then kill -9 after 20 s."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class ClickHouseServer(ChildProcess):
    """One clickhouse-server process on loopback ports, its files in `directory`."""

    directory: Path
    http_port: int = 0
    tcp_port: int = 0
    interserver_port: int = 0
    extra_config: str = ""
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.http_port:
            self.http_port, self.tcp_port, self.interserver_port = free_ports(3)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def write_config(self) -> Path:
        d = self.directory
        for sub in ("data", "tmp", "user_files", "format_schemas", "log"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        (d / "users.xml").write_text(_USERS)
        config = f"""<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{d}/log/server.log</log><errorlog>{d}/log/error.log</errorlog>
    <size>10M</size><count>2</count></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>{self.http_port}</http_port>
  <tcp_port>{self.tcp_port}</tcp_port>
  <interserver_http_port>{self.interserver_port}</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <path>{d}/data/</path>
  <tmp_path>{d}/tmp/</tmp_path>
  <user_files_path>{d}/user_files/</user_files_path>
  <format_schema_path>{d}/format_schemas/</format_schema_path>
  <users_config>{d}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  <mlock_executable>false</mlock_executable>
  <timezone>UTC</timezone>
  {self.extra_config}
</yandex>
"""
        path = d / "config.xml"
        path.write_text(config)
        return path

    def start(self, timeout: float = 30.0) -> None:
        config = self.write_config()
        log = (self.directory / "log" / "stdout.log").open("ab")
        self.process = subprocess.Popen(
            [SERVER_BINARY, f"--config-file={config}"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.directory)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"clickhouse-server exited with {self.process.returncode}: {self.log_tail()}")
            if self.ping():
                return
            time.sleep(0.1)
        raise RuntimeError(f"clickhouse-server did not answer within {timeout:g} s: {self.log_tail()}")

    def ping(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=1) as response:
                return bool(response.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def log_tail(self) -> str:
        texts = []
        for name in ("error.log", "stdout.log"):
            path = self.directory / "log" / name
            if path.exists():
                texts.append(path.read_text(errors="replace")[-2000:])
        return "\n".join(texts)


@dataclass
class ZooKeeper(ChildProcess):
    """A standalone ZooKeeper (Debian's package) on a free loopback port."""

    directory: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.port:
            self.port, self.admin_port = free_ports(2)
        else:
            self.admin_port = free_ports(1)[0]

    def start(self, timeout: float = 60.0) -> None:
        data = self.directory / "data"
        data.mkdir(parents=True, exist_ok=True)
        config = self.directory / "zoo.cfg"
        config.write_text(
            f"tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir={data}\nclientPort={self.port}\n"
            f"clientPortAddress=127.0.0.1\nadmin.serverPort={self.admin_port}\nadmin.enableServer=false\n"
            "4lw.commands.whitelist=ruok,srvr,stat\nmaxClientCnxns=200\n")
        log = (self.directory / "zookeeper.log").open("ab")
        java = shutil.which("java") or "/usr/bin/java"
        self.process = subprocess.Popen(
            [java, "-Xmx256m", "-cp", ZOOKEEPER_CLASSPATH, f"-Dzookeeper.log.dir={self.directory}",
             "-Dzookeeper.root.logger=WARN,CONSOLE", "org.apache.zookeeper.server.quorum.QuorumPeerMain",
             str(config)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.directory)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"zookeeper exited with {self.process.returncode}")
            # `ruok` answers before the database is loaded; servers with replicated tables that
            # connect then exit. `srvr` reports a mode only once ZooKeeper serves.
            if "Mode:" in self.four_letters("srvr"):
                return
            time.sleep(0.2)
        raise RuntimeError(f"zookeeper did not serve within {timeout:g} s")

    def four_letters(self, word: str) -> str:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(word.encode())
                chunks = []
                while chunk := sock.recv(4096):
                    chunks.append(chunk)
                return b"".join(chunks).decode(errors="replace")
        except OSError:
            return ""


@dataclass
class Cluster:
    """`shards` x `replicas` servers sharing one ZooKeeper, with a cluster named `name` in every config."""

    directory: Path
    shards: int = 2
    replicas: int = 2
    name: str = "tracehouse"
    zookeeper: ZooKeeper | None = None
    servers: list[list[ClickHouseServer]] = field(default_factory=list)

    def start(self, timeout: float = 60.0) -> None:
        """Start ZooKeeper, then every server; `timeout` bounds each process's start."""
        self.zookeeper = ZooKeeper(self.directory / "zookeeper")
        self.zookeeper.start(timeout)
        layout = [[ClickHouseServer(self.directory / f"s{s + 1}r{r + 1}") for r in range(self.replicas)]
                  for s in range(self.shards)]
        remote = "".join(
            "<shard><internal_replication>true</internal_replication>"
            + "".join(f"<replica><host>127.0.0.1</host><port>{srv.tcp_port}</port></replica>" for srv in shard)
            + "</shard>" for shard in layout)
        for s, shard in enumerate(layout):
            for r, server in enumerate(shard):
                server.extra_config = (
                    f"<remote_servers><{self.name}>{remote}</{self.name}></remote_servers>"
                    f"<zookeeper><node><host>127.0.0.1</host><port>{self.zookeeper.port}</port></node>"
                    "<session_timeout_ms>6000</session_timeout_ms></zookeeper>"
                    f"<macros><shard>{s + 1}</shard><replica>r{r + 1}</replica></macros>"
                    "<distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>")
        self.servers = layout
        for shard in layout:
            for server in shard:
                server.start(timeout)

    def all_servers(self) -> list[ClickHouseServer]:
        return [srv for shard in self.servers for srv in shard]

    def stop(self) -> None:
        for server in self.all_servers():
            with contextlib.suppress(Exception):
                server.stop()
        if self.zookeeper is not None:
            self.zookeeper.stop()


def server_available() -> bool:
    return os.access(SERVER_BINARY, os.X_OK)
