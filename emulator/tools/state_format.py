"""``apigw-ws state`` as text: the mocked services' tables, queues, topics and buckets.

A pure module: :func:`format_state` writes the view that
:func:`emulator.runtime.aws_state.view` builds (and the inspector shows), one
line per resource, then one per item, message or object.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["format_state"]


def format_state(view: Mapping[str, Any]) -> str:
    """The text ``apigw-ws state`` prints (ending with a newline)."""
    lines: list[str] = []
    for table in view.get("tables", []):
        items = table["items"]
        lines.append(
            f"dynamodb table {table['name']} ({table['region']}),"
            f" key {', '.join(table['key'])}: {_count(table['count'], 'item')}"
        )
        lines += [f"  {json.dumps(item, ensure_ascii=False, sort_keys=True)}" for item in items]
        lines += _more(table["count"] - len(items))
    for queue in view.get("queues", []):
        messages = queue["messages"]
        lines.append(
            f"sqs queue {queue['name']} ({queue['region']}): {_count(len(messages), 'message')}"
        )
        lines += [f"  {message}" for message in messages]
    for topic in view.get("topics", []):
        lines.append(f"sns topic {topic['name']} ({topic['region']})")
    for bucket in view.get("buckets", []):
        objects = bucket["objects"]
        lines.append(f"s3 bucket {bucket['name']}: {_count(len(objects), 'object')}")
        lines += [f"  {item['key']} ({_count(item['size'], 'byte')})" for item in objects]
    if not lines:
        lines.append("no tables, queues, topics or buckets")
    return "\n".join(lines) + "\n"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _more(hidden: int) -> list[str]:
    return [f"  ... {hidden} more (--limit shows more)"] if hidden > 0 else []
