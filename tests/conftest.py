"""Fixtures shared by several test folders."""
from __future__ import annotations

import pytest


@pytest.fixture
def one_thread():
    """Tiny models run fastest on one thread, and a busy shared CPU makes multi-threaded kernels crawl."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
