"""Synthetic call transcripts and victims' complaint narratives: labelled test data.

This is the text part of the simulator. It produces short, generic, plainly synthetic texts for
training and testing classifiers; nothing here is meant to be said on a real call. Every phrase
comes from the YAML templates in ``templates/`` (one file per language, format described in
``templates/README.md``); this package only combines them at random:

* :func:`render_transcripts` renders one call transcript per requested kind. Scam kinds follow the
  2016 "safe account" pattern (``neighbor``, ``police``, ``official``, ``followup``) plus
  ``list_dial``, a cut-short call from a list-dialling run; the ``normal_*`` kinds are ordinary
  calls whose vocabulary deliberately overlaps with the scam kinds (banks talk about accounts and
  verification, families talk about the police and about scam calls), so that no single word
  gives a scam away.
* :func:`render_narratives` renders a victim's complaint to the police (first person, one to four
  sentences) from the facts in a :class:`NarrativeDetails`.

Output format of a transcript: one turn per line, each line starting ``"caller: "`` or
``"callee: "``, lines joined with ``"\\n"``.

Everything is deterministic: the same arguments give the same strings, on every run and machine.

Modules: ``kinds`` (kinds, languages, stages), ``template_file`` (the file format as pydantic
models: the checks), ``templates`` (loading), ``expander`` (placeholders), ``dialogue``
(transcripts), ``narrative`` (complaints).
"""

from scamtrace.simulate.text.dialogue import render_transcripts
from scamtrace.simulate.text.kinds import (
    LANGUAGES,
    NARRATIVE_STAGES,
    NORMAL_KINDS,
    SCAM_KINDS,
    TRANSCRIPT_KINDS,
)
from scamtrace.simulate.text.narrative import NarrativeDetails, format_amount, render_narratives

__all__ = [
    "LANGUAGES",
    "NARRATIVE_STAGES",
    "NORMAL_KINDS",
    "SCAM_KINDS",
    "TRANSCRIPT_KINDS",
    "NarrativeDetails",
    "format_amount",
    "render_narratives",
    "render_transcripts",
]
