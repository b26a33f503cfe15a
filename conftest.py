"""Loads smokegate's pytest plugin for every run from this folder (checks/ and tests/)."""

pytest_plugins = ["smokegate.pytest_plugin.plugin"]
