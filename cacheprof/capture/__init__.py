"""The only code that talks to an engine (and the only importer of `docker`).

Drivers (real and replay), recordings, the runner that owns the images it makes, and the orchestration
of a profile and of an interleaved compare.
"""
