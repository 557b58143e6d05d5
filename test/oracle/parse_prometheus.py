"""Parses a Prometheus text exposition with the reference parser (prometheus_client) and
prints its metric families as JSON, for test/ops: what Prometheus itself would read."""
import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families


def num(v):
    # JSON has no infinities; the +Inf bucket's value is finite, but be exact about any other.
    if isinstance(v, float) and math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return v


with open(sys.argv[1], encoding="utf-8") as f:
    text = f.read()
families = [
    {
        "name": fam.name,
        "type": fam.type,
        "help": fam.documentation,
        "samples": [{"name": s.name, "labels": dict(s.labels), "value": num(s.value)} for s in fam.samples],
    }
    for fam in text_string_to_metric_families(text)
]
json.dump(families, sys.stdout)
