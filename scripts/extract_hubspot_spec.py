"""Extract the parts of HubSpot's published CRM v3 object specs that okrsync's requests use.

    python scripts/extract_hubspot_spec.py PATH/TO/HubSpot-public-api-spec-collection > tests/vendor_specs/hubspot.json

Reads PublicApiSpecs/CRM/{Deals,Contacts,Companies,Tickets}/Rollouts/424/v3/*.json (HubSpot's own
repository, https://github.com/HubSpot/HubSpot-public-api-spec-collection) and keeps the list and
search operations with the schemas their request bodies use. The object type in the path may be the
name (deals) or the type id (0-3): HubSpot accepts both.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

OBJECTS = {"Deals": ("deals", "0-3"), "Contacts": ("contacts", "0-1"), "Companies": ("companies", "0-2"),
           "Tickets": ("tickets", "0-5")}  # fmt: skip
SCHEMAS = ("PublicObjectSearchRequest", "FilterGroup", "Filter")


def main(repo: Path) -> dict:
    commit = subprocess.run(["git", "-C", str(repo), "log", "-1", "--format=%H %cs"], capture_output=True,
                            text=True, check=True).stdout.split()  # fmt: skip
    path = "PublicApiSpecs/CRM/Deals/Rollouts/424/v3/deals.json"  # a checkout or a bare mirror: read it from git
    spec = json.loads(subprocess.run(["git", "-C", str(repo), "show", f"HEAD:{path}"], capture_output=True,
                                     check=True).stdout)  # fmt: skip
    base = "/crm/v3/objects/0-3"
    listing = spec["paths"][base]["get"]
    return {
        "vendor": "HubSpot CRM v3 objects",
        "source": f"https://github.com/HubSpot/HubSpot-public-api-spec-collection @ {commit[0][:12]} ({commit[1]}), "
        "PublicApiSpecs/CRM/*/Rollouts/424/v3",
        "read": "2026-11-22",
        "path_values": {"objectType": [name for pair in OBJECTS.values() for name in pair]},
        "operations": [
            {
                "method": "GET",
                "path": "/crm/v3/objects/{objectType}",
                "query": {p["name"]: {} for p in listing["parameters"] if p["in"] == "query"},
            },
            {
                "method": "POST",
                "path": "/crm/v3/objects/{objectType}/search",
                "query": {},
                "body": "PublicObjectSearchRequest",
            },
        ],  # fmt: skip
        "schemas": {name: spec["components"]["schemas"][name] for name in SCHEMAS},
    }


if __name__ == "__main__":
    json.dump(main(Path(sys.argv[1])), sys.stdout, indent=1)
    print()
