"""Fixtures shared by several test folders."""
from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """Measured choices (archspec.train.autotune) go to a cache of the test session's own, never the user's;
    set in the environment so training subprocesses (torchrun, the CLI) use it too."""
    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if before is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = before


@pytest.fixture
def one_thread():
    """Tiny models run fastest on one thread, and a busy shared CPU makes multi-threaded kernels crawl."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
