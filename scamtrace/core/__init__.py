"""What every stage shares and no stage owns.

``core`` imports nothing else from scamtrace (a test checks it): the contract (input and
findings schemas, the flag threshold), the error hierarchy, case and findings folders, DuckDB
helpers, and the reading of phone numbers, accounts and IP addresses.
"""
