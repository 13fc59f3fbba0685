"""An address's country from a MaxMind database (``podcast stats ingest --geoip``),
looked up before any hashing."""

from __future__ import annotations

from pathlib import Path

from podcast.errors import PodcastError


class GeoIP:
    """Country of an address from a MaxMind database (looked up before any hashing)."""

    def __init__(self, path: Path) -> None:
        import maxminddb
        from maxminddb.errors import InvalidDatabaseError

        try:
            self.reader = maxminddb.open_database(str(path))
        except (OSError, ValueError, InvalidDatabaseError) as exc:
            raise PodcastError(f"cannot read the GeoIP database: {exc}", file=path,
                               field="--geoip", fix="give a MaxMind .mmdb file "
                               "(e.g. GeoLite2-Country.mmdb)") from None

    def country(self, ip: str) -> str | None:
        try:
            record = self.reader.get(ip.strip("[]"))
        except ValueError:
            return None
        if not isinstance(record, dict):
            return None
        country = record.get("country") or record.get("registered_country") or {}
        code = country.get("iso_code") if isinstance(country, dict) else None
        return code if isinstance(code, str) else None

