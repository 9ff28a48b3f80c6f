"""A pytest plugin for bark-omni and its plugin authors (registered under the ``pytest11`` entry point).

Fixtures:

* ``tiny_model_dir``: the tiny Bark written in suno's format (created once per machine, offline);
* ``tiny_models``: that model loaded (``BarkModels``);
* ``tiny_host``: a strict ``Host`` with every installed plugin loaded; a broken plugin fails the test run;
* ``make_host``: build a host from explicit plugin objects, e.g. ``make_host(my_plugin)`` (the built-ins are
  included unless ``builtins=False``), to test a plugin in isolation the way pytester tests pytest plugins.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    from bark_omni.tiny import ensure_tiny_model

    return ensure_tiny_model()


@pytest.fixture(scope="session")
def tiny_host():
    from bark_omni.host import Host

    return Host(strict=True)


@pytest.fixture(scope="session")
def tiny_models(tiny_host, tiny_model_dir):
    from bark_omni.models import load_models

    return load_models(tiny_model_dir, tiny_host, device="cpu")


@pytest.fixture
def make_host() -> Callable[..., Any]:
    from bark_omni.host import ESSENTIAL_PLUGINS, Host

    def make(*plugins: Any, builtins: bool = True, **kwargs: Any) -> Host:
        allow = set() if builtins else None
        host = Host(plugins, entry_points=builtins, strict=True, allow=allow, **kwargs)
        assert not builtins or ESSENTIAL_PLUGINS <= set(host.plugins)
        return host

    return make
