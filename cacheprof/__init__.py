"""cacheprof: what Docker's build cache does for a Dockerfile, measured on real builds."""

__version__ = "0.1.0"
