"""Validates constrained-decoding outputs with Python's jsonschema (the property test's independent check).

The Swift property test (ConstrainedDecodingTests.testRandomSchemasDecodeToValidJSON) decodes every schema of
Tests/Fixtures/reference/random_schemas.json with the tiny checkpoints, greedy and sampled, and writes one JSON
line per output to .build/constrained-outputs.jsonl:
    {"name", "checkpoint", "mode", "seed", "schema", "output", "finish"}
This script checks that every output parses as JSON and validates against its schema (Draft 2020-12), that each
run finished by the end token ("stop"), and that at least --min-outputs lines are present.

    python3 scripts/validate_constrained.py [.build/constrained-outputs.jsonl] [--min-outputs 800]
"""
import argparse
import json
import pathlib
import sys

import jsonschema

ROOT = pathlib.Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("path", nargs="?", default=str(ROOT / ".build" / "constrained-outputs.jsonl"))
    parser.add_argument("--min-outputs", type=int, default=800)
    args = parser.parse_args()
    path = pathlib.Path(args.path)
    if not path.exists():
        sys.exit(f"error: {path} not found (run swift test --filter ConstrainedDecodingTests first)")
    failures, count, schemas = [], 0, set()
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        count += 1
        schemas.add(record["name"])
        where = f'{record["name"]} {record["checkpoint"]} {record["mode"]} seed {record["seed"]}'
        if record["finish"] != "stop":
            failures.append(f"{where}: finished by {record['finish']}: {record['output']!r}")
            continue
        try:
            value = json.loads(record["output"])
        except json.JSONDecodeError as e:
            failures.append(f"{where}: not JSON ({e}): {record['output']!r}")
            continue
        errors = list(jsonschema.Draft202012Validator(record["schema"]).iter_errors(value))
        if errors:
            failures.append(f"{where}: {errors[0].message}: {record['output']!r}")
    print(f"{count} outputs over {len(schemas)} schemas, {len(failures)} invalid")
    for f in failures[:20]:
        print("  " + f)
    if count < args.min_outputs:
        sys.exit(f"error: only {count} outputs, expected at least {args.min_outputs}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
