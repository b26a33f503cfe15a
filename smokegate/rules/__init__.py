"""Pure rule functions: facts in, `Verdict` out. No I/O, no pytest, so each rule is unit-tested
on hand-built inputs at its boundaries."""
