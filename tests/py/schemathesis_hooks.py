"""Schemathesis hooks for tests/contract_fuzz.rs (loaded through SCHEMATHESIS_HOOKS).

The filter parameters of the searches and tiles are free-form (`material=wood`,
`area_ha=5..20`, source attributes): the names a layer accepts are data (`GET /catalog`,
`/ogc/collections/{id}/queryables`), so no schema of one operation can list them for every
`{layer}`, and random names are refused as they should be (400, naming the parameter). The
hook drops the query members the generator invented for them: every name that no query
parameter of openapi.yaml documents, directly or as a property of an exploded object
parameter. The filter grammar has its own tests (bad_input, search_oracle, ogc_cql2).
"""

import os

import schemathesis
import yaml

SPEC = os.environ.get(
    "TERRIENS_OPENAPI",
    os.path.join(os.path.dirname(__file__), "..", "..", "openapi.yaml"),
)


def _documented_names(doc):
    def resolve(node):
        while isinstance(node, dict) and "$ref" in node:
            target = doc
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            node = target
        return node

    def properties(schema, seen=()):
        schema = resolve(schema)
        if not isinstance(schema, dict) or id(schema) in seen:
            return set()
        names = set(schema.get("properties", {}))
        for key in ("allOf", "anyOf", "oneOf"):
            for sub in schema.get(key, []):
                names |= properties(sub, seen + (id(schema),))
        return names

    names, groups = set(), set()
    params = list(doc.get("components", {}).get("parameters", {}).values())
    for item in doc["paths"].values():
        params += item.get("parameters", [])
        for op in item.values():
            if isinstance(op, dict):
                params += op.get("parameters", [])
    for p in params:
        p = resolve(p)
        if p.get("in") != "query":
            continue
        schema = resolve(p.get("schema", {}))
        if schema.get("type") == "object" and p.get("explode", True):
            members = properties(schema)
            names |= members
            if members:
                groups.add(p["name"])
        else:
            names.add(p["name"])
    return names, groups


with open(SPEC) as f:
    DOCUMENTED, GROUPS = _documented_names(yaml.safe_load(f))


def _known(name, value):
    """A documented name with a plain value, or a documented group (an exploded object of
    listed properties) before it is spread over the query string."""
    if isinstance(value, dict):
        return name in GROUPS
    return name in DOCUMENTED


@schemathesis.hook
def map_query(context, query):
    if query:
        for name in [k for k, v in query.items() if not _known(k, v)]:
            del query[name]
    return query
