"""Engine stream messages into the step model: BuildKit's trace and the classic builder's stream.

Pure: shared by live capture and the log parsers.
"""
