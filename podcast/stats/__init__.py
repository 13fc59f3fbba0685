"""Measurement: count IAB downloads from access logs and report them.

The package's modules (its entry file only names them):

* :mod:`~podcast.stats.commands` — the ``podcast stats`` commands the CLI calls (ingest,
  report, targets), with ``--state`` and a damaged database named with its fix;
* :mod:`~podcast.stats.ingest` — ``podcast stats ingest``: the pipeline, logs -> the stats
  database, batch by batch;
* :mod:`~podcast.stats.scan` — a log file's content: hashing, gzip (damage, bombs), the
  prefix an earlier run ingested, the new part;
* :mod:`~podcast.stats.s3logs` — log files named by the user: local files and folders, and
  S3 objects listed and downloaded;
* :mod:`~podcast.stats.geoip` — an address's country from a MaxMind database;
* :mod:`~podcast.stats.logs` — log formats: detection, and the normalised request columns
  in SQL;
* :mod:`~podcast.stats.counting` — the IAB counting rules, as a list of named rules;
* :mod:`~podcast.stats.agents` and :mod:`~podcast.stats.apps` — user agent -> app,
  device, bot; apps grouped by platform;
* :mod:`~podcast.stats.store` — the DuckDB database and the listener-hash keys;
* :mod:`~podcast.stats.state` — the database kept in a store between runs (``--state``);
* :mod:`~podcast.stats.platforms` — plays reported by platforms (``podcast stats import``);
* :mod:`~podcast.stats.report`, :mod:`~podcast.stats.targets` and
  :mod:`~podcast.stats.charts` — the database -> tables, JSON, CSV, charts and HTML;
* :mod:`~podcast.stats.canvas` — a chart's shapes written as SVG (or PNG).
"""
