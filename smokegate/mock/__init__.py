"""Mocked worlds: `fixtures/<world>/` loaded into `responses` (HTTP) and `moto` (AWS), so a whole
run can go offline without a single test-only branch in the code that talks to real targets."""
