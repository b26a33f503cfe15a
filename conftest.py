"""Loads the smokegate plugin for every run from this folder (checks/ and tests/)."""

pytest_plugins = ["smokegate.plugin"]
