"""Share what was found, without handing over citizens' data.

- ``exchange/``: two agencies, each with half the picture, trade keyed-hash requests and
  answers (keys, request, answer, merge, leads), or count an overlap by private set
  intersection (psi).
- ``export/``: the findings in the standards investigators' tools read (stix, misp, ftm), on one
  base.
- ``package``: a signed case package whose every byte can be verified (chain of custody), made
  without personal data by ``redact`` unless told to reveal it.
- ``safeio``: the files traded with partners read safely; ``commands`` and ``cli_*``: the
  ``scamtrace share`` sub-commands.
"""
