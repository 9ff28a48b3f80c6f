"""Plugins that ship with the core. They load through the ``bark_omni`` entry-point group like any other."""
