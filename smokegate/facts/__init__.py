"""What gatherers produce and rules judge: typed, frozen facts per kind of target (`http`,
`tls`, `iam`). Standard library only, so rules and check collection load nothing heavy."""
