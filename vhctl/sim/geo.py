"""Country lookups the way a hub without a MaxMind database answers them (A5).

Local and private addresses are "L1" / "Local Network"; simulated users may bring their own country
code (the demo's users come "from" many countries), which the hub then reports for their IP too.
Anything else is unknown (None), as on the lab hub.
"""

from __future__ import annotations

import ipaddress
from typing import Optional

LOCAL_CC = "L1"
LOCAL_NAME = "Local Network"

COUNTRY_NAMES = {
    "L1": LOCAL_NAME, "AT": "Austria", "AU": "Australia", "BE": "Belgium", "BG": "Bulgaria",
    "BR": "Brazil", "CA": "Canada", "CH": "Switzerland", "CZ": "Czechia", "DE": "Germany",
    "DK": "Denmark", "EE": "Estonia", "ES": "Spain", "FI": "Finland", "FR": "France",
    "GB": "United Kingdom", "GR": "Greece", "HU": "Hungary", "IE": "Ireland", "IT": "Italy",
    "JP": "Japan", "LT": "Lithuania", "LV": "Latvia", "NL": "Netherlands", "NO": "Norway",
    "PL": "Poland", "PT": "Portugal", "RO": "Romania", "RS": "Serbia", "RU": "Russia",
    "SE": "Sweden", "SK": "Slovakia", "UA": "Ukraine", "US": "United States",
}


_LOCAL_NETS = tuple(ipaddress.ip_network(n) for n in (
    "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"))


def is_local(ip: str) -> bool:
    """Loopback, RFC 1918 and link-local IPv4, loopback IPv6."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if addr.version == 6:
        return addr.is_loopback
    return any(addr in net for net in _LOCAL_NETS)


class Geo:
    """IP -> country, from the local ranges plus what simulated users declared."""

    def __init__(self) -> None:
        self._declared: dict[str, str] = {}

    def declare(self, ip: str, cc: str) -> None:
        """A simulated user says ``ip`` is in country ``cc``."""
        if cc and cc != LOCAL_CC:
            self._declared[ip] = cc

    def cc(self, ip: str) -> Optional[str]:
        if ip in self._declared:
            return self._declared[ip]
        return LOCAL_CC if is_local(ip) else None

    def country(self, ip: str) -> Optional[str]:
        code = self.cc(ip)
        return COUNTRY_NAMES.get(code, code) if code else None

    def asn(self, ip: str) -> Optional[str]:
        return LOCAL_NAME if is_local(ip) and ip not in self._declared else None

    def record(self, ip: str) -> Optional[dict]:
        """The dict of the two-argument ``vh.GetGeoIP`` (F49.30), None when the lookup fails."""
        code = self.cc(ip)
        if code is None:
            return None
        return {
            "latitude": 0.0, "longitude": 0.0, "metro_code": 0, "area_code": 0, "host": "",
            "range_low": ip, "range_high": ip, "country_code": code, "country_code_xxx": code,
            "country": self.country(ip) or "", "region_code": "", "region": "", "time_zone": "",
            "continent_code": "", "continent": "", "city": "", "postal_code": "",
        }
