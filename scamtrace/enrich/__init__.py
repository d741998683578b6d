"""Enrich: normalise what the holders logged (phones to E.164, IPs to country and network,
accounts checked) so that detectors compare like with like."""
