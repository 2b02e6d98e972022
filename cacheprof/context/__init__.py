"""What the docker CLI would send as the build context; never talks to an engine.

The .dockerignore matcher (moby's semantics), the context walk, the tar, globs of context paths and the
edits that `edit:` scenarios make.
"""
