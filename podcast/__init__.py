"""podcast: produce, publish and measure an interview podcast.

Stages, each a module, data flowing one way:
config -> audio (master) -> tags -> storage -> feed/site -> publish;
access logs -> stats (downloads) -> reports.
"""

__version__ = "0.1.0"
