"""The findings in the standards investigators' tools read, on one common base.

- :mod:`.base`: the findings folder loaded for export, indicators and victims, the checks every
  export makes (TLP level, case folder), the victims' numbers in any written form;
- :mod:`.stix`: a STIX 2.1 bundle (and back);
- :mod:`.misp`: MISP events and a MISP feed folder;
- :mod:`.ftm`: FollowTheMoney entities for Aleph.
"""
