"""Share what was found, without handing over citizens' data.

- ``exchange``: two agencies, each with half the picture, trade keyed-hash requests and answers.
- ``psi``: private set intersection, when only the size of an overlap may be revealed.
- ``stix``, ``misp``, ``ftm``: the findings in the standards investigators' tools read.
- ``package``: a signed case package whose every byte can be verified (chain of custody).
"""
