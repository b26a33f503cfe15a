"""smokegate's pytest plugin: the only package that imports pytest, _pytest, pluggy or xdist.

`plugin` is the entry point (loaded by the project's conftest.py); it registers the others
for a run with an env: `run` (the run's bookkeeping and the gate), `redact`, `waivers`,
`iam`, `html` and `junit`. `fixtures` are the checks' fixtures, `keys` what the modules
share, `xdist` the one adapter over pytest-xdist's private worker queue.
"""
