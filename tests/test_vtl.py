"""Mapping templates (spec §A.5, §A.9): API Gateway's $input, $util, $context on airspeed-ext."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from emulator.gateway.integrations import vtl
from emulator.gateway.integrations.vtl import TemplateError, VtlVariables, check_template, render

DOCUMENT: dict[str, Any] = {
    "action": "send",
    "message": "it's",
    "pets": [{"name": "a"}, {"name": "b"}],
    "data": {"room": "r1"},
    "n": 3,
    "flag": True,
}
VARIABLES = VtlVariables(
    body=json.dumps(DOCUMENT),
    document=DOCUMENT,
    is_json=True,
    context={
        "connectionId": "cid=",
        "requestTimeEpoch": 1000,
        "authorizer": {"principalId": "me"},
        "identity": {"sourceIp": "1.2.3.4"},
    },
    stage_variables={"env": "dev"},
    params={"path": {}, "querystring": {"foo": "bar"}, "header": {"Host": "h", "X-Port": "443"}},
)
NOT_JSON = VtlVariables(body="test@message", context={"connectionId": "cid="})

CASES = [
    # (id, template, output)
    ("input-body-raw", "$input.body", json.dumps(DOCUMENT)),
    ("input-json-string", "$input.json('$.message')", '"it\'s"'),
    ("input-json-object", "$input.json('$.data')", '{"room":"r1"}'),
    ("input-json-missing", "[$input.json('$.nope')]", "[]"),
    ("input-path-size", "$input.path('$.pets').size()", "2"),
    ("input-path-nested", "$input.path('$.pets[1].name')", "b"),
    ("input-path-map-java", "$input.path('$.data')", "{room=r1}"),
    ("input-path-list-json", "$input.path('$.pets')", '[{"name":"a"},{"name":"b"}]'),
    ("input-path-number", "#if($input.path('$.n') > 2)big#end", "big"),
    ("input-path-boolean", "$input.path('$.flag')", "true"),
    ("foreach", "#foreach($p in $input.path('$.pets'))$p.name#if($foreach.hasNext),#end#end",
     "a,b"),
    ("params-map", "$input.params().get('header')", "{Host=h, X-Port=443}"),
    ("params-all", "$input.params()",
     "{path={}, querystring={foo=bar}, header={Host=h, X-Port=443}}"),
    ("params-name", "$input.params('foo') $input.params('host') [$input.params('x')]", "bar h []"),
    ("context", "$context.connectionId $context.authorizer.principalId", "cid= me"),
    ("context-arithmetic", "#set($ttl = $context.requestTimeEpoch + 86400)$ttl", "87400"),
    ("context-map", "$context.identity", "{sourceIp=1.2.3.4}"),
    ("stage-variables", "$stageVariables.env $stageVariables['env'] ${stageVariables['env']}",
     "dev dev dev"),
    ("undefined-is-empty", "Hello $name [$context.nope]", "Hello  []"),
    ("url-encode", "$util.urlEncode('a b&c=d/é')", "a+b%26c%3Dd%2F%C3%A9"),
    ("url-decode", "$util.urlDecode('a+b%26c')", "a b&c"),
    ("base64", "$util.base64Encode('hé') $util.base64Decode('aMOp')", "aMOp hé"),
    ("escape-js-replace-all",
     "$util.escapeJavaScript($input.path('$.message')).replaceAll(\"\\\\'\",\"'\")", "it's"),
    ("parse-json", "$util.parseJson('{\"a\": [1, 2]}').a[1]", "2"),
    ("double-quote-escape", '#set($d = "{""a"": 2}")$d', '{"a": 2}'),
    ("java-strings", "$input.path('$.message').toUpperCase() ${input.path('$.action').length()}",
     "IT'S 4"),
    ("java-map", "$context.containsKey('connectionId') $context.identity.size()", "true 1"),
]  # fmt: skip


@pytest.mark.parametrize(("template", "output"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_render(template: str, output: str) -> None:
    assert render(template, VARIABLES) == output


def test_input_on_a_body_that_is_not_json() -> None:
    template = "$input.body|$input.json('$')|$input.path('$.a')|$context.connectionId"

    assert render(template, NOT_JSON) == "test@message|||cid="


def test_escape_javascript_escapes_quotes_and_controls() -> None:
    variables = VtlVariables(body='say "it\'s"\n\\', context={})

    text = render("$util.escapeJavaScript($input.body)", variables)

    assert text == 'say \\"it\\\'s\\"\\n\\\\'


def test_the_sqs_template_survives_awkward_bodies() -> None:
    variables = VtlVariables(body="a & b + 100%", context={})

    text = render("Action=SendMessage&MessageBody=$util.urlEncode($input.body)", variables)

    assert text == "Action=SendMessage&MessageBody=a+%26+b+%2B+100%25"


@pytest.mark.parametrize(
    ("template", "words"),
    [("#if($a", "does not parse"), ("$util.parseJson('{')", "not JSON"),
     ("$util.base64Decode('!!')", "not base64"), ("$input.json('nope')", "must start with '\\$'")],
    ids=["syntax", "parse-json", "base64", "json-path"],
)  # fmt: skip
def test_render_errors(template: str, words: str) -> None:
    with pytest.raises(TemplateError, match=words):
        render(template, VARIABLES)


def test_check_template() -> None:
    assert check_template("$input.body") is None
    assert "does not parse" in (check_template("#foreach($x in") or "")


def test_vtl_is_the_only_module_importing_airspeed() -> None:
    from pathlib import Path

    package = Path(vtl.__file__).parent.parent
    importers = [
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        if "import airspeed" in path.read_text(encoding="utf-8")
        or "from airspeed" in path.read_text(encoding="utf-8")
    ]

    assert importers == ["integrations/vtl.py"]
    assert "airspeed" in sys.modules
