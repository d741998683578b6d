"""Two agencies, each with half the picture, work one case without handing over citizens' data.

Agency A (the victims' country: carrier records, banks, complaints) and agency B (the call
centers' country: the VoIP provider's records) agree a secret key for the case. Every phone
number that crosses the border is replaced by ``HMAC-SHA256(key, "phone:+E164")``: a party
without the key can neither read nor confirm a guess, and each side can still match the other's
hashes against numbers it already holds, by hashing its own.

1. :mod:`.request` (A): the calls A finds suspicious (a local caller ID arriving on an
   international trunk, or any call from abroad to a victim A flagged), as hashed callee, start
   time and hashed caller ID, and the spoofed caller IDs A flagged.
2. :mod:`.answer` (B): B matches the request against its own records by hashed dialled
   number and start time within a tolerance, scores its own lines with the same detector, and
   returns the lines it flags (SIP accounts, source IPs with country and network, every call they
   placed with hashed numbers); lines it does not flag (its own citizens: emigrants, ordinary
   customers) only as a pseudonym keyed with a secret only B holds (its *line key*, not the
   case key, so A cannot test guesses of B's account names), their verdict and the matched
   calls, with no address.
3. :mod:`.merge` (A): A resolves the hashes that are numbers of its own case, writes the
   answer as ``voip_cdr`` rows into a new case folder next to its own tables, and keeps the
   hashes it cannot resolve (victims of other domestic networks) as leads; ``detect`` then runs
   on the merged case unchanged.
4. :mod:`.leads`: those leads, as findings (``exchange_leads.csv``) and as a lookup a domestic
   network answers with the case key.

:mod:`.keys` holds the case key, B's line key and the keyed hashes; :mod:`.messages` the
request and answer files; :mod:`.psi` a private set intersection for when only the size of an
overlap may be revealed. What each side learns is written down in ``docs/adr/0005-exchange.md``.
"""
