"""The suite's own tests run offline and need no --env."""
