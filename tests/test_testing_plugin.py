"""The pytest plugin keeps tests away from the user's configuration."""

from __future__ import annotations

import os
from pathlib import Path


def test_config_dir_is_private_to_the_run(private_config_dir, tmp_path_factory):
    from bark_omni.files import config_dir

    assert Path(os.environ["XDG_CONFIG_HOME"]) == private_config_dir
    assert config_dir().is_relative_to(tmp_path_factory.getbasetemp())
    assert not config_dir().is_relative_to(Path.home() / ".config")
