#!/usr/bin/python3
"""traefik-validate: check YAML files against one of Traefik's published JSON
Schemas (test/data/traefik/, draft-07). This is the test seam for Traefik:
Traefik cannot run in the test environment, so its contract is checked
against the schema Traefik's users validate with.

Usage: traefik-validate.py SCHEMA.json FILE.yml...
Exit 0 when every file is valid, 1 when any is not (each error printed as
FILE: PATH: MESSAGE), 2 on usage or I/O errors.

Also refuses what the schema cannot see but Traefik would trip on: an empty
document (Traefik loads it as an empty configuration) and `{{` anywhere
(Traefik's file provider runs files through Go templates).

Run it with /usr/bin/python3 (Debian's python3-jsonschema and python3-yaml).
"""
import json
import sys

import jsonschema
import yaml


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[3], file=sys.stderr)
        return 2
    try:
        with open(argv[1], encoding="utf-8") as f:
            schema = json.load(f)
    except (OSError, ValueError) as e:
        print(f"{argv[1]}: {e}", file=sys.stderr)
        return 2
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema)
    bad = False
    for path in argv[2:]:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            print(f"{path}: {e}", file=sys.stderr)
            return 2
        if "{{" in text:
            print(f"{path}: contains '{{{{' (Go template action)")
            bad = True
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as e:
            print(f"{path}: not YAML: {e}")
            bad = True
            continue
        if doc is None:
            print(f"{path}: empty document")
            bad = True
            continue
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
        for err in errors:
            where = "/".join(str(p) for p in err.path) or "(root)"
            print(f"{path}: {where}: {err.message}")
            bad = True
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
