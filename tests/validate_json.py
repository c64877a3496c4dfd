#!/usr/bin/env python3
"""Validates a JSON answer against the OpenSubsonic OpenAPI document.

    python3 tests/validate_json.py <method> <file.json>

Takes the application/json schema of the GET 200 response (POST for a POST-only method) of /rest/<method> in
tests/spec/opensubsonic-openapi.bundled.json and validates the file against it, resolving
the document's $refs (into components/responses and components/schemas) with a
`referencing` registry. OpenAPI 3.0's `nullable` is ignored (unknown keywords are). Exits 0
when valid; otherwise prints every error and exits 1 (2 for a usage or spec problem).

The spec's response schemas do not list `subsonic-response` as required, so an answer
without it would pass them vacuously: this script insists on it too. A few describe only
the envelope's contents (schemas.TranscodeDecisionResponse): those validate the
`subsonic-response` object itself.
"""

import json
import os
import sys

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SPEC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "spec", "opensubsonic-openapi.bundled.json")
# A made-up base URI under which the whole OpenAPI document is registered, so that
# "#/components/..." references resolve within it.
BASE = "urn:opensubsonic-openapi"


def die(msg, code=2):
    print(msg, file=sys.stderr)
    sys.exit(code)


def escape(part):
    return part.replace("~", "~0").replace("/", "~1")


def lookup(doc, pointer):
    node = doc
    for part in pointer.lstrip("/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def schema_pointer(doc, method):
    """The JSON pointer, within the document, of the JSON schema of GET /rest/<method>'s 200
    response; the response object itself may be a `$ref` into components/responses."""
    pointer = f"/paths/{escape('/rest/' + method)}"
    if lookup(doc, pointer) is None:
        die(f"no path /rest/{method} in {SPEC}")
    # POST-only methods (getTranscodeDecision) are validated against their POST answer.
    verb = "get" if lookup(doc, pointer + "/get") is not None else "post"
    pointer += f"/{verb}/responses/200"
    resp = lookup(doc, pointer)
    if resp is None:
        die(f"no 200 response for {verb.upper()} /rest/{method}")
    seen = set()
    while isinstance(resp, dict) and "$ref" in resp:
        ref = resp["$ref"]
        if not ref.startswith("#/") or ref in seen:
            die(f"cannot follow $ref {ref!r}")
        seen.add(ref)
        pointer = ref[1:]
        resp = lookup(doc, pointer)
    pointer += "/content/application~1json/schema"
    if lookup(doc, pointer) is None:
        die(f"no application/json schema in the 200 response of GET /rest/{method}")
    return pointer


def has_envelope(doc, schema, depth=0):
    """Whether a schema describes the `subsonic-response` object (some of the spec's
    response schemas describe only what goes inside it: schemas.TranscodeDecisionResponse)."""
    if depth > 20 or not isinstance(schema, dict):
        return False
    if "$ref" in schema:
        return has_envelope(doc, lookup(doc, schema["$ref"][1:]), depth + 1)
    if "subsonic-response" in schema.get("properties", {}):
        return True
    return any(has_envelope(doc, s, depth + 1) for k in ("allOf", "oneOf", "anyOf") for s in schema.get(k, []))


def main(argv):
    if len(argv) != 3:
        die("usage: validate_json.py <method> <file.json>")
    method, path = argv[1], argv[2]
    with open(SPEC, encoding="utf-8") as f:
        doc = json.load(f)
    try:
        with open(path, encoding="utf-8") as f:
            instance = json.load(f)
    except (OSError, ValueError) as e:
        print(f"{path}: not JSON: {e}")
        return 1

    # OpenAPI 3.0 schemas are a draft-4/5 dialect: validate with Draft 4 semantics
    # (exclusiveMinimum as a boolean etc.). The root schema points into the registered
    # document, so every "#/components/..." inside resolves against the whole document.
    registry = Registry().with_resource(BASE, Resource(contents=doc, specification=DRAFT4))
    pointer = schema_pointer(doc, method)
    root = {"$ref": BASE + "#" + pointer}
    envelope = isinstance(instance, dict) and "subsonic-response" in instance
    if envelope and not has_envelope(doc, lookup(doc, pointer)):
        # The schema is of the envelope's contents: validate those.
        print(f"note: the {method} schema describes the subsonic-response object's contents")
        target = instance["subsonic-response"]
    else:
        target = instance
    validator = jsonschema.Draft4Validator(root, registry=registry, format_checker=jsonschema.FormatChecker())

    errors = sorted(validator.iter_errors(target), key=lambda e: repr(list(e.absolute_path)))
    invalid = bool(errors)
    if not envelope:
        print("$: the answer has no 'subsonic-response' object")
        invalid = True
    for e in errors:
        where = "$" + "".join(f"[{p!r}]" for p in e.absolute_path)
        print(f"{where}: {e.message}")
        # oneOf/anyOf failures: say why each branch failed, which is what one needs to fix it.
        for sub in sorted(e.context or [], key=lambda s: (repr(list(s.schema_path)), s.message)):
            branch = sub.schema_path[0] if sub.schema_path else "?"
            subwhere = "$" + "".join(f"[{p!r}]" for p in sub.absolute_path)
            print(f"    branch {branch}: {subwhere}: {sub.message}")
    if invalid:
        print(f"invalid against the {method} response schema of {os.path.basename(SPEC)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
