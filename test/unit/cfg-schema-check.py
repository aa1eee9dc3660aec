#!/usr/bin/python3
"""cfg-schema-check: the JSON Schema side of the schema agreement test.

Run by test/unit/t-cfg.c with the distribution's /usr/bin/python3
(python3-jsonschema 4.10, python3-yaml 6). Two modes:

  check SCHEMA_DIR FILE...  one line per file: "valid NAME" or
                            "invalid NAME: reason". The kind of each file
                            comes from its name (global-*, site-*,
                            profile-*).
  keys SCHEMA_DIR KIND      every property path of KIND's schema with its
                            type and default, "path<TAB>type<TAB>default",
                            sorted; t-cfg compares it with the C table.

PyYAML implements YAML 1.1 (yes/no are booleans there, 010 is octal,
1_000 an integer, `<<` merges); bluegreen reads YAML 1.2 with the core
schema, so the loader below resolves plain scalars the 1.2 way and refuses
what the C parser refuses (duplicate keys, merge keys, tags, NUL), so that
both sides validate the same data.
"""

import json
import os
import re
import sys

import jsonschema
import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, ScalarNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner


class Core12Resolver(BaseResolver):
    """Implicit types of the YAML 1.2 core schema, nothing else."""


Core12Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
Core12Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"))
Core12Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"))
Core12Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
               r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."))


class Core12Constructor(SafeConstructor):
    def construct_core_int(self, node):
        v = node.value
        if v.startswith("0o"):
            return int(v[2:], 8)
        if v.startswith("0x"):
            return int(v[2:], 16)
        return int(v, 10)

    def construct_core_float(self, node):
        v = node.value.lower()
        if v.endswith(".inf"):
            return float("-inf") if v.startswith("-") else float("inf")
        if v == ".nan":
            return float("nan")
        return float(v)

    def construct_core_bool(self, node):
        return node.value.lower() == "true"

    def construct_mapping(self, node, deep=False):
        if not isinstance(node, MappingNode):
            raise ConstructorError(None, None, "expected a mapping", node.start_mark)
        out = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise ConstructorError(None, None, "a mapping key must be a plain string",
                                       key_node.start_mark)
            key = key_node.value  # keys are text, as in JSON
            if key == "<<" and key_node.style is None:
                raise ConstructorError(None, None, "merge keys are not supported",
                                       key_node.start_mark)
            if key in out:
                raise ConstructorError(None, None, "duplicate key %r" % key,
                                       key_node.start_mark)
            out[key] = self.construct_object(value_node, deep=True)
        return out

    def construct_scalar(self, node):
        value = super().construct_scalar(node)
        if "\0" in value:
            raise ConstructorError(None, None, "NUL in a value", node.start_mark)
        return value


Core12Constructor.add_constructor("tag:yaml.org,2002:int", Core12Constructor.construct_core_int)
Core12Constructor.add_constructor("tag:yaml.org,2002:float",
                                  Core12Constructor.construct_core_float)
Core12Constructor.add_constructor("tag:yaml.org,2002:bool", Core12Constructor.construct_core_bool)
Core12Constructor.add_constructor("tag:yaml.org,2002:map", Core12Constructor.construct_mapping)


class NoTagComposer(Composer):
    """bluegreen refuses explicit tags (`!!str`, `!x`): so does this side."""

    def _refuse_tag(self):
        event = self.peek_event()
        if getattr(event, "tag", None) is not None:
            raise yaml.composer.ComposerError(None, None, "tags are not supported",
                                              event.start_mark)

    def compose_scalar_node(self, anchor):
        self._refuse_tag()
        return super().compose_scalar_node(anchor)

    def compose_sequence_node(self, anchor):
        self._refuse_tag()
        return super().compose_sequence_node(anchor)

    def compose_mapping_node(self, anchor):
        self._refuse_tag()
        return super().compose_mapping_node(anchor)


class Loader(Reader, Scanner, Parser, NoTagComposer, Core12Constructor, Core12Resolver):
    def __init__(self, stream):
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        NoTagComposer.__init__(self)
        Core12Constructor.__init__(self)
        Core12Resolver.__init__(self)


def load_schemas(schema_dir):
    schemas = {}
    store = {}
    for kind in ("global", "site", "profile"):
        path = os.path.abspath(os.path.join(schema_dir, kind + ".schema.json"))
        with open(path, encoding="utf-8") as f:
            schemas[kind] = json.load(f)
        store["file://" + path] = schemas[kind]
    return schemas, store


def validator(schemas, store, schema_dir, kind):
    base = "file://" + os.path.abspath(os.path.join(schema_dir, kind + ".schema.json"))
    resolver = jsonschema.RefResolver(base, schemas[kind], store=store)
    cls = jsonschema.Draft202012Validator
    cls.check_schema(schemas[kind])
    return cls(schemas[kind], resolver=resolver)


def kind_of(path):
    base = os.path.basename(path)
    for kind in ("global", "site", "profile"):
        if base.startswith(kind + "-"):
            return kind
    raise SystemExit("cfg-schema-check: cannot tell the kind of %s" % path)


def check(schema_dir, files):
    schemas, store = load_schemas(schema_dir)
    validators = {k: validator(schemas, store, schema_dir, k) for k in schemas}
    for path in files:
        name = os.path.basename(path)
        try:
            with open(path, "rb") as f:
                doc = yaml.load(f, Loader=Loader)
        except yaml.YAMLError as e:
            print("invalid %s: yaml: %s" % (name, str(e).replace("\n", " ")))
            continue
        errors = sorted(validators[kind_of(path)].iter_errors(doc), key=lambda e: list(e.path))
        if errors:
            e = errors[0]
            where = ".".join(str(p) for p in e.path)
            print("invalid %s: %s: %s" % (name, where or "(top)", e.message[:200]))
        else:
            print("valid %s" % name)


def resolve(schema_dir, schemas, store, kind, node):
    """Follow $ref (same file or a sibling schema) until a node has no $ref."""
    while "$ref" in node:
        ref = node["$ref"]
        target_file, _, pointer = ref.partition("#")
        if target_file:
            kind = target_file.split(".")[0]
        node = schemas[kind]
        for part in [p for p in pointer.split("/") if p]:
            node = node[part]
    return kind, node


def type_of(node):
    if "type" in node:
        t = node["type"]
        return "|".join(sorted(t)) if isinstance(t, list) else t
    if "anyOf" in node:
        return "|".join(sorted(a["type"] for a in node["anyOf"]))
    if "enum" in node:
        return "string"
    return "?"


def dump(schema_dir, schemas, store, kind, node, prefix, out):
    for name, prop in node.get("properties", {}).items():
        if "description" not in prop:
            raise SystemExit("%s.schema.json: %s%s has no description" % (kind, prefix, name))
        k2, p = resolve(schema_dir, schemas, store, kind, prop)
        default = json.dumps(p["default"], separators=(",", ":")) if "default" in p else "-"
        out.append("%s%s\t%s\t%s" % (prefix, name, type_of(p), default))
        if p.get("type") == "object":
            if "properties" in p:
                dump(schema_dir, schemas, store, k2, p, prefix + name + ".", out)
            extra = p.get("additionalProperties")
            if isinstance(extra, dict):
                k3, e = resolve(schema_dir, schemas, store, k2, extra)
                out.append("%s%s.*\t%s\t-" % (prefix, name, type_of(e)))
                if "properties" in e:
                    dump(schema_dir, schemas, store, k3, e, prefix + name + ".*.", out)


def keys(schema_dir, kind):
    schemas, store = load_schemas(schema_dir)
    out = []
    dump(schema_dir, schemas, store, kind, schemas[kind], "", out)
    for line in sorted(out):
        print(line)


def main(argv):
    if len(argv) >= 3 and argv[1] == "check":
        check(argv[2], argv[3:])
    elif len(argv) == 4 and argv[1] == "keys":
        keys(argv[2], argv[3])
    else:
        raise SystemExit("usage: cfg-schema-check.py check SCHEMA_DIR FILE... | keys SCHEMA_DIR KIND")


if __name__ == "__main__":
    main(sys.argv)
