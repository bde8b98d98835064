"""Fixtures that start real processes (FBaaS services, the backend) and kill them at teardown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import Backend, Processes


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    pool = Processes(tmp_path)
    yield pool
    pool.close()


@pytest.fixture(scope="module")
def module_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Processes]:
    pool = Processes(tmp_path_factory.mktemp("procs"))
    yield pool
    pool.close()


@pytest.fixture(scope="module")
def backend(module_processes: Processes, tmp_path_factory: pytest.TempPathFactory) -> Backend:
    return module_processes.backend(tmp_path_factory.mktemp("store"))
