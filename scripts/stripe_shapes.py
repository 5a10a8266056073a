"""Extract, from Stripe's published OpenAPI spec, the shapes of the objects Headstore reads.

    python scripts/stripe_shapes.py SPEC [--repo stripe/openapi] [--path openapi/spec3.json]
        [--commit SHA] [--out devtools/stripe_openapi/shapes.json]

SPEC is Stripe's `spec3.json` (or `spec3.yaml`, read with PyYAML) from github.com/stripe/openapi.
For each endpoint Headstore calls it keeps the names of the parameters the endpoint takes
(`requests`), which the stand-in accepts and no others. For each object below the output keeps
only what a shape check needs, as JSON Schema (draft
2020-12): `type`, `properties` (each with its `type`, `enum`, `items`, `anyOf` and nested
`properties`/`required`, OpenAPI's `nullable` turned into a `null` type), and `required`.
Descriptions, lengths and formats are dropped. A `$ref` to another schema becomes a permissive
"object, or its string id" (Stripe's expandable fields), except the few sub-objects Headstore
reads field by field (INLINE), which are kept one level deep. The header names the spec's source
so the file can be regenerated and compared (docs/stripe-stand-in.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

# The objects Headstore's code reads (billing, payouts, finance, the webhooks).
OBJECTS = (
    "payment_intent",
    "customer",
    "setup_intent",
    "payment_method",
    "account",
    "account_link",
    "transfer",
    "balance_transaction",
    "event",
    "refund",
    "dispute",
    "balance",
    "charge",
)

# The endpoints Headstore's code calls (billing, payouts, finance, their tests and dev tools),
# as the spec names them: the parameters each takes are kept, so that the stand-in refuses any
# other as Stripe does (`parameter_unknown`).
ENDPOINTS = (
    ("post", "/v1/customers"),
    ("get", "/v1/customers/{customer}"),
    ("post", "/v1/setup_intents"),
    ("post", "/v1/payment_methods"),
    ("get", "/v1/payment_methods/{payment_method}"),
    ("post", "/v1/payment_methods/{payment_method}/attach"),
    ("post", "/v1/payment_intents"),
    ("get", "/v1/payment_intents"),
    ("get", "/v1/payment_intents/{intent}"),
    ("post", "/v1/payment_intents/{intent}/capture"),
    ("post", "/v1/payment_intents/{intent}/cancel"),
    ("get", "/v1/charges/{charge}"),
    ("post", "/v1/refunds"),
    ("get", "/v1/refunds"),
    ("get", "/v1/balance"),
    ("get", "/v1/balance_transactions"),
    ("get", "/v1/balance_transactions/{id}"),
    ("post", "/v1/accounts"),
    ("get", "/v1/accounts"),
    ("get", "/v1/accounts/{account}"),
    ("post", "/v1/account_links"),
    ("post", "/v1/transfers"),
    ("get", "/v1/transfers"),
    ("get", "/v1/transfers/{transfer}"),
    ("post", "/v1/transfers/{id}/reversals"),
    ("get", "/v1/disputes"),
    ("get", "/v1/disputes/{dispute}"),
    ("post", "/v1/disputes/{dispute}"),
    ("post", "/v1/disputes/{dispute}/close"),
    ("get", "/v1/events"),
    ("post", "/v1/webhook_endpoints"),
)

# Sub-objects read field by field (payouts' account_state, billing's attach_card, webhooks):
# kept one level deep instead of "object or id".
INLINE = {
    ("account", "capabilities"),
    ("account", "requirements"),
    ("payment_method", "card"),
    ("event", "data"),
    ("balance", "available"),
    ("balance", "pending"),
}

EXPANDABLE: dict[str, Any] = {"type": ["object", "string"]}
MAX_DEPTH = 3


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _nullable(shape: dict[str, Any], nullable: bool) -> dict[str, Any]:
    if not nullable:
        return shape
    if "type" in shape:
        types = shape["type"] if isinstance(shape["type"], list) else [shape["type"]]
        shape["type"] = [*types, "null"] if "null" not in types else types
        if "enum" in shape and None not in shape["enum"]:
            shape["enum"] = [*shape["enum"], None]
        return shape
    if "anyOf" in shape:
        shape["anyOf"] = [*shape["anyOf"], {"type": "null"}]
        return shape
    return shape  # already permissive: no type, any value


def reduce(schemas: dict[str, Any], schema: dict[str, Any], depth: int, inline: bool) -> Any:
    """A property's schema cut down to its shape; `inline` follows one `$ref`."""
    if "$ref" in schema:
        if inline:
            return reduce(schemas, schemas[_ref_name(schema["$ref"])], depth, False)
        return dict(EXPANDABLE)
    nullable = bool(schema.get("nullable"))
    if "anyOf" in schema or "oneOf" in schema:
        members = schema.get("anyOf") or schema.get("oneOf") or []
        if inline and len(members) == 1 and "$ref" in members[0]:
            inlined = reduce(schemas, schemas[_ref_name(members[0]["$ref"])], depth, False)
            return _nullable(inlined, nullable)
        reduced = [reduce(schemas, m, depth + 1, False) for m in members]
        # "an id or an expanded object" (or several object kinds) collapses to one permissive
        # member, so the file stays small and the check says one thing.
        if any(m == EXPANDABLE for m in reduced):
            kept = [m for m in reduced if m != EXPANDABLE and m.get("type") != "string"]
            reduced = [*kept, dict(EXPANDABLE)]
        unique: list[Any] = []
        for m in reduced:
            if m not in unique:
                unique.append(m)
        merged: dict[str, Any] = unique[0] if len(unique) == 1 else {"anyOf": unique}
        return _nullable(dict(merged), nullable)
    shape: dict[str, Any] = {}
    if "type" in schema:
        shape["type"] = schema["type"]
    if "enum" in schema:
        shape["enum"] = list(schema["enum"])
    if schema.get("type") == "array" and "items" in schema:
        shape["items"] = (
            reduce(schemas, schema["items"], depth + 1, False) if depth < MAX_DEPTH else {}
        )
    if "properties" in schema:
        if depth < MAX_DEPTH:
            shape["properties"] = {
                name: reduce(schemas, prop, depth + 1, False)
                for name, prop in sorted(schema["properties"].items())
            }
            if schema.get("required"):
                shape["required"] = sorted(schema["required"])
        shape.setdefault("type", "object")
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict) and extra.get("type") in ("string", "integer", "boolean"):
        shape["additionalProperties"] = {"type": extra["type"]}
    return _nullable(shape, nullable)


def object_shape(schemas: dict[str, Any], name: str) -> dict[str, Any]:
    schema = schemas[name]
    properties = {
        prop: reduce(schemas, value, 1, (name, prop) in INLINE)
        for prop, value in sorted(schema.get("properties", {}).items())
    }
    return {
        "type": "object",
        "properties": properties,
        "required": sorted(schema.get("required", [])),
    }


def request_parameters(spec: dict[str, Any]) -> dict[str, list[str]]:
    """For each of ENDPOINTS ("POST /v1/payment_intents"), the names of the parameters it takes
    at the top level: the form body's properties (POST), the query's (GET)."""
    found: dict[str, list[str]] = {}
    for method, path in ENDPOINTS:
        operation = spec["paths"][path][method]
        names = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
        body = operation.get("requestBody", {}).get("content", {})
        form = body.get("application/x-www-form-urlencoded", {}).get("schema", {})
        names |= set(form.get("properties", {}))
        found[f"{method.upper()} {path}"] = sorted(names)
    return found


def load(spec: Path) -> dict[str, Any]:
    if spec.suffix in (".yaml", ".yml"):
        import yaml  # only for the YAML form of the spec

        loaded: dict[str, Any] = yaml.load(spec.read_text(), Loader=yaml.CSafeLoader)
        return loaded
    result: dict[str, Any] = json.loads(spec.read_text())
    return result


def shapes(spec: dict[str, Any], source: dict[str, str]) -> dict[str, Any]:
    schemas = spec["components"]["schemas"]
    return {
        "source": {**source, "api_version": spec["info"]["version"]},
        "schema_dialect": "https://json-schema.org/draft/2020-12/schema",
        "objects": {name: object_shape(schemas, name) for name in OBJECTS},
        "requests": request_parameters(spec),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("spec", type=Path, help="Stripe's spec3.json (or spec3.yaml)")
    parser.add_argument("--repo", default="stripe/openapi")
    parser.add_argument("--path", default="openapi/spec3.json", help="the spec's path in --repo")
    parser.add_argument("--commit", default="", help="the commit of --repo the spec comes from")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent.parent / "devtools/stripe_openapi/shapes.json",
    )
    args = parser.parse_args(argv)
    result = shapes(load(args.spec), {"repo": args.repo, "path": args.path, "commit": args.commit})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    size = args.out.stat().st_size
    print(
        f"{args.out}: {len(result['objects'])} objects, {len(result['requests'])} endpoints, "
        f"{size} bytes",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
