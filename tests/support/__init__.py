"""Helpers shared by the suite's tests (servers, moto, subprocess runs, env files); no tests."""
