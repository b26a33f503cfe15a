"""The only code that opens sockets or calls AWS: the concurrent HTTP prober (`probe`) and the
gatherers per kind of target (`http`, `tls`, `iam`). Each turns every failure into a fact
with an error text; none raises into a check."""
