"""Protect while it happens: the real-time scoring service (``scamtrace serve``).

The batch stages find a network after the fact; this stage scores one call at setup and one
transfer before it executes, from state that starts with a findings folder and keeps learning
from the events streamed into it. :mod:`.model` holds the wire types (the one boundary every
other module of the stage shares); :mod:`.engine` the state and the scoring; :mod:`.app` the
HTTP service around it.
"""
