"""Property tests of configuration files: whatever a routes.yaml, a template or a
serverless.yml holds, reading it gives a config or a ConfigError, never another
exception (tests/test_config.py does the same for documents already parsed).

The files are written to disk and read by the same functions ``serve``,
``check`` and ``export`` use: YAML text built from its syntax (anchors,
aliases, tags, flow and block collections), and template documents whose
values are CloudFormation's intrinsic functions and the Serverless
Framework's variables, referring to each other at random. Bounded runs.
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.errors import ConfigError
from emulator.model.api import ApiConfig
from emulator.model.config import load_config
from emulator.model.templates import ImportedApi, load_template
from emulator.model.yaml_files import dump_yaml

FUZZ = settings(
    max_examples=200,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
HANDLERS = "def ok(event, context):\n    return {'statusCode': 200}\n"

# -- YAML text --------------------------------------------------------------------------------

WORDS = st.sampled_from(
    [
        "routes", "$default", "$connect", "handler", "handlers.ok", "routeResponse", "true",
        "stage", "limits", "frameSize", "models", "schema", "environment", "authorizer",
        "iamCredentials", "apiKeys", "integration", "type", "MOCK", "null", "1e3", "-1",
        "0x10", "~", "yes", "2010-09-09",
    ]
)  # fmt: skip
SYNTAX = st.sampled_from(
    [": ", "\n", "\n  ", "\n    ", "- ", "{", "}", "[", "]", ", ", "&a ", "&b ", "*a", "*b",
     "!Ref ", "!Join ", "!!str ", "!!python/object ", "<<: ", "|\n  ", ">\n  ", "'", '"',
     "# ", "--- ", "...", "? ", "%YAML 1.1\n", "\t", "\\"]
)  # fmt: skip
PIECES = WORDS | SYNTAX | st.text(alphabet=string.printable, max_size=4)
YAML_TEXT = st.lists(PIECES, max_size=60).map("".join)


def read_or_error(function: Any, path: Path) -> object:
    """What reading gives: a value or the ConfigError; anything else fails the test."""
    try:
        value: object = function(path)
    except ConfigError as error:
        value = error
    if isinstance(value, ConfigError):
        assert str(value).startswith(str(path)), str(value)  # it names the file
    return value


@FUZZ
@given(text=YAML_TEXT)
def test_any_routes_yaml_gives_a_config_or_a_config_error(tmp_path: Path, text: str) -> None:
    (tmp_path / "handlers.py").write_text(HANDLERS)
    path = tmp_path / "routes.yaml"
    path.write_text("routes:\n  $default: handlers.ok\n" + text)
    outcome = read_or_error(load_config, path)
    assert isinstance(outcome, ApiConfig | ConfigError)


@FUZZ
@given(text=YAML_TEXT, kind=st.sampled_from(["template.yaml", "serverless.yml"]))
def test_any_template_text_gives_an_api_or_a_config_error(
    tmp_path: Path, text: str, kind: str
) -> None:
    (tmp_path / "handlers.py").write_text(HANDLERS)
    path = tmp_path / kind
    head = "Resources:\n" if kind == "template.yaml" else "service: s\n"
    path.write_text(head + text)
    outcome = read_or_error(load_template, path)
    assert isinstance(outcome, ImportedApi | ConfigError)


# -- template documents: intrinsic functions and variables that refer to each other ------------

NAMES = st.sampled_from(["Api", "Fn", "Route", "Integ", "Table", "Param", "Cond", "Stage", "X"])
SCALARS = (
    st.sampled_from(["", "x", "${Api}", "${Fn.Arn}", "${AWS::Region}", "${Param}", "${!Lit}"])
    | st.integers(-3, 3)
    | st.booleans()
    | st.none()
)


def intrinsics(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.builds(lambda n: {"Ref": n}, NAMES | SCALARS),
        st.builds(lambda d, v: {"Fn::Join": [d, v]}, st.sampled_from(["", "/", 1]), children),
        st.builds(lambda v: {"Fn::Sub": v}, children),
        st.builds(lambda n, a: {"Fn::GetAtt": [n, a]}, NAMES, st.sampled_from(["Arn", "ApiId"])),
        st.builds(lambda c, a, b: {"Fn::If": [c, a, b]}, NAMES, children, children),
        st.builds(lambda i, v: {"Fn::Select": [i, v]}, st.integers(-1, 3) | SCALARS, children),
        st.builds(lambda v: {"Fn::Split": [",", v]}, children),
        st.builds(lambda a, b, c: {"Fn::FindInMap": [a, b, c]}, NAMES, NAMES, NAMES),
        st.builds(lambda v: {"Fn::Equals": v}, children),
        st.builds(lambda v: {"Fn::Base64": v}, children),
        st.builds(lambda n: {"Condition": n}, NAMES),
    )


VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(NAMES | st.sampled_from(["Name", "Handler"]), children, max_size=3)
        | intrinsics(children)
    ),
    max_leaves=12,
)
TYPES = st.sampled_from(
    [
        "AWS::ApiGatewayV2::Api", "AWS::ApiGatewayV2::Route", "AWS::ApiGatewayV2::Integration",
        "AWS::ApiGatewayV2::Stage", "AWS::ApiGatewayV2::RouteResponse",
        "AWS::ApiGatewayV2::Authorizer", "AWS::ApiGatewayV2::Model", "AWS::Serverless::Function",
        "AWS::Lambda::Function", "AWS::DynamoDB::Table", "AWS::Serverless::WebSocketApi",
    ]
)  # fmt: skip
PROPERTIES = st.dictionaries(
    st.sampled_from(
        [
            "Name",
            "ProtocolType",
            "RouteSelectionExpression",
            "ApiId",
            "RouteKey",
            "Target",
            "IntegrationType",
            "IntegrationUri",
            "Handler",
            "Runtime",
            "CodeUri",
            "Environment",
            "TableName",
            "StageName",
            "Routes",
            "AuthorizerType",
        ]
    ),
    VALUES | st.sampled_from(["WEBSOCKET", "AWS_PROXY", "$default", "handlers.ok", "python3.12"]),
    max_size=6,
)
RESOURCES = st.dictionaries(
    NAMES,
    st.fixed_dictionaries({"Type": TYPES}, optional={"Properties": PROPERTIES, "Condition": NAMES}),
    max_size=6,
)
# Half the time with a WebSocket API and a function, so that routes get imported.
BASE = {
    "Ws": {
        "Type": "AWS::ApiGatewayV2::Api",
        "Properties": {"Name": "ws", "ProtocolType": "WEBSOCKET"},
    },
    "Fn": {
        "Type": "AWS::Serverless::Function",
        "Properties": {"Handler": "handlers.ok", "Runtime": "python3.12", "CodeUri": "."},
    },
}
TEMPLATES = st.fixed_dictionaries(
    {"Resources": RESOURCES | RESOURCES.map(lambda resources: {**BASE, **resources})},
    optional={
        "Parameters": st.dictionaries(
            NAMES, st.fixed_dictionaries({}, optional={"Default": VALUES})
        ),
        "Conditions": st.dictionaries(NAMES, VALUES, max_size=3),
        "Mappings": st.dictionaries(NAMES, st.dictionaries(NAMES, st.dictionaries(NAMES, VALUES))),
        "Globals": st.fixed_dictionaries({}, optional={"Function": PROPERTIES}),
    },
)


@FUZZ
@given(document=TEMPLATES, as_json=st.booleans())
def test_any_template_document_gives_an_api_or_a_config_error(
    tmp_path: Path, document: dict[str, Any], as_json: bool
) -> None:
    (tmp_path / "handlers.py").write_text(HANDLERS)
    path = tmp_path / ("template.json" if as_json else "template.yaml")
    path.write_text(json.dumps(document) if as_json else dump_yaml(document, short_forms=True))
    outcome = read_or_error(load_template, path)
    assert isinstance(outcome, ImportedApi | ConfigError)


VARIABLES = st.lists(
    st.sampled_from(
        [
            "${self:custom.a}",
            "${self:custom.b}",
            "${opt:stage}",
            "${env:HOME}",
            "${sls:stage}",
            "${param:p}",
            "${ssm:/x}",
            "${self:custom.${opt:stage}}",
            "${",
            "}",
            "x",
            ", 'fallback'",
            "${self:provider.stage, 'dev'}",
            "${aws:region}",
        ]
    ),
    max_size=6,
).map("".join)
SERVERLESS = st.fixed_dictionaries(
    {
        "service": VARIABLES | st.just("chat"),
        "provider": st.fixed_dictionaries(
            {"name": st.just("aws")},
            optional={"stage": VARIABLES, "runtime": st.just("python3.12"), "region": VARIABLES},
        ),
        "custom": st.dictionaries(
            st.sampled_from(["a", "b", "dev"]), VARIABLES | st.lists(VARIABLES, max_size=3)
        ),
        "functions": st.dictionaries(
            st.sampled_from(["f", "g"]),
            st.fixed_dictionaries(
                {"handler": st.just("handlers.ok") | VARIABLES},
                optional={
                    "environment": st.dictionaries(st.sampled_from(["X", "Y"]), VARIABLES),
                    "events": st.just([{"websocket": {"route": "$default"}}]),
                },
            ),
            max_size=2,
        ),
    }
)


@FUZZ
@given(document=SERVERLESS)
def test_any_serverless_yml_gives_an_api_or_a_config_error(
    tmp_path: Path, document: dict[str, Any]
) -> None:
    (tmp_path / "handlers.py").write_text(HANDLERS)
    path = tmp_path / "serverless.yml"
    path.write_text(dump_yaml(document))
    outcome = read_or_error(load_template, path)
    assert isinstance(outcome, ImportedApi | ConfigError)
