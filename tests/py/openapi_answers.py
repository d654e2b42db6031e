#!/usr/bin/env python3
"""Checks recorded answers of a real terriens server against openapi.yaml, the contract.

Usage: openapi_answers.py OPENAPI_YAML ANSWERS_JSON

ANSWERS_JSON is a list of {"method", "route" (the path template), "query" (list of parameter
names sent), "status", "content_type", "body" (parsed JSON, or null when not JSON)}.

For each answer, with `jsonschema` (JSON Schema 2020-12, the dialect of OpenAPI 3.1) and
`referencing` — an implementation independent of the server:
- the operation (method + path template) is documented;
- every query parameter sent is documented for that operation (a documented free-form
  parameter — `style: form`, `explode: true`, an object schema — accepts any other name);
- the status is documented for it (or a `default` response is);
- the media type is one the response documents, and a JSON body validates against its schema.

Prints one line per problem on standard error and exits 1 when there is any; prints a summary
line on standard output.
"""
import json
import sys

import jsonschema
import referencing
import referencing.jsonschema
import yaml


def resolve(doc, node):
    """Follows local `$ref`s (`#/components/...`) until a node without one."""
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        target = doc
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def free_form(param):
    schema = param.get("schema", {})
    return (
        param.get("in") == "query"
        and param.get("style", "form") == "form"
        and param.get("explode", True)
        and schema.get("type") == "object"
    )


def media_matches(documented, actual):
    actual = (actual or "").split(";")[0].strip().lower()
    for m in documented:
        m0 = m.split(";")[0].strip().lower()
        if m0 == actual or m0 == "*/*" or (m0.endswith("/*") and actual.startswith(m0[:-1])):
            return m
    return None


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    with open(sys.argv[2], encoding="utf-8") as f:
        answers = json.load(f)
    # `$ref`s inside schemas resolve against the whole document.
    resource = referencing.Resource.from_contents(
        doc, default_specification=referencing.jsonschema.DRAFT202012
    )
    registry = referencing.Registry().with_resource("urn:terriens:openapi", resource)
    problems = []
    validated = 0
    for a in answers:
        where = f"{a['method']} {a['route']} ({a['status']})"
        item = doc["paths"].get(a["route"])
        op = item and item.get(a["method"].lower())
        if not op:
            problems.append(f"{where}: operation not documented")
            continue
        params = [resolve(doc, p) for p in item.get("parameters", []) + op.get("parameters", [])]
        names = {p["name"] for p in params if p.get("in") == "query"}
        open_ended = any(free_form(p) for p in params)
        for q in a["query"]:
            if q not in names and not open_ended:
                problems.append(f"{where}: query parameter `{q}` not documented")
        responses = op.get("responses", {})
        resp = responses.get(str(a["status"])) or responses.get("default")
        if resp is None:
            problems.append(f"{where}: status {a['status']} not documented")
            continue
        resp = resolve(doc, resp)
        content = resp.get("content")
        if not content:
            continue
        media = media_matches(content.keys(), a["content_type"])
        if media is None:
            problems.append(
                f"{where}: content type {a['content_type']!r} not among {sorted(content)}"
            )
            continue
        schema = content[media].get("schema")
        if schema is None or a["body"] is None:
            continue
        wrapped = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
        wrapped = json.loads(json.dumps(wrapped).replace('"#/', '"urn:terriens:openapi#/'))
        validator = jsonschema.Draft202012Validator(wrapped, registry=registry)
        errors = sorted(validator.iter_errors(a["body"]), key=lambda e: list(e.path))
        for e in errors[:3]:
            path = "/".join(str(p) for p in e.absolute_path)
            problems.append(f"{where}: body at /{path}: {e.message[:300]}")
        validated += 1
    # Problems go to standard error: the test shows it when the script fails.
    for p in problems:
        print(p, file=sys.stderr)
    print(f"{len(answers)} answers, {validated} JSON bodies validated, {len(problems)} problems")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
