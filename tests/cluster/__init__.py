"""The cluster test and what it shares: real processes (``processes``), the suite's cluster mode
(``mode``)."""
